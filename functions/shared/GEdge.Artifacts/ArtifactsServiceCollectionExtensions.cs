using GEdge.Jobs;
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

    /// <summary>
    /// Adds <see cref="ManifestIntermediates"/> as the <see cref="IJobIntermediates"/> that every removal of a job's
    /// intermediates goes by: every host that ends jobs (each stage, the gateway) needs it.
    /// </summary>
    public static IServiceCollection AddJobIntermediates(this IServiceCollection services)
    {
        services.TryAddSingleton<IJobIntermediates, ManifestIntermediates>();
        return services;
    }
}
