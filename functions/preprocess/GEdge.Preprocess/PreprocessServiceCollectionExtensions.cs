using GEdge.Contracts;
using GEdge.Artifacts;
using GEdge.Events;
using GEdge.Stages;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Preprocess;

/// <summary>Registers the Preprocess stage.</summary>
public static class PreprocessServiceCollectionExtensions
{
    /// <summary>Adds the Preprocess stage, subscribed on <see cref="GEdgeTriggers.Preprocess"/>, with options from the <c>Preprocess</c> section.</summary>
    public static IServiceCollection AddPreprocessStage(this IServiceCollection services)
    {
        services.AddOptions<PreprocessOptions>().BindConfiguration("Preprocess");
        services.AddOptions<SegmentOptions>().BindConfiguration(SegmentOptions.SectionName);
        services.AddModelManifest();
        services.AddJobIntermediates();
        return services.AddStage<PreprocessWork>(PipelineTopology.Preprocess);
    }
}
