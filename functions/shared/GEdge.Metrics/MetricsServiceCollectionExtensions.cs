using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GEdge.Metrics;

/// <summary>Registers the process's <see cref="GEdgeMetrics"/>.</summary>
public static class MetricsServiceCollectionExtensions
{
    /// <summary>Adds the one <see cref="GEdgeMetrics"/> of this container, unless it has one.</summary>
    public static IServiceCollection AddGEdgeMetrics(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<GEdgeMetrics>();
        return services;
    }
}
