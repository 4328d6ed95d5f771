using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Rendering;

/// <summary>Registers the Postprocess stage's rendering engine.</summary>
public static class RenderingServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="AnnotatedVideoWriter"/> (a singleton: it holds only its settings), with
    /// <see cref="AnnotatedVideoOptions"/> bound from the <c>Rendering</c> section; the defaults need none.
    /// </summary>
    public static IServiceCollection AddRendering(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<AnnotatedVideoOptions>().BindConfiguration(AnnotatedVideoOptions.SectionName);
        services.AddSingleton<AnnotatedVideoWriter>();
        return services;
    }
}
