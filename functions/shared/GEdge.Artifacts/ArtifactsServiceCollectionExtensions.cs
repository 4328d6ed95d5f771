using GEdge.Vision;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GEdge.Artifacts;

/// <summary>Registers what the stages' documents are made for: the pipeline's model.</summary>
public static class ArtifactsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the pipeline's model manifest (name and folder from the <c>Detector</c> section, as the detector reads them),
    /// unless the host registered one already (Infer registers its detector's).
    /// </summary>
    public static IServiceCollection AddModelManifest(this IServiceCollection services)
    {
        services.TryAddSingleton(provider =>
        {
            var configuration = provider.GetRequiredService<IConfiguration>();
            return ModelCatalog.Load(configuration["Detector:Model"] ?? ModelCatalog.DefaultModel, configuration["Detector:ModelsDirectory"]);
        });
        return services;
    }
}
