using GEdge.Artifacts;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.Rendering;
using GEdge.Stages;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Postprocess;

/// <summary>Registers the Postprocess stage.</summary>
public static class PostprocessServiceCollectionExtensions
{
    /// <summary>Adds the Postprocess stage and its renderer, subscribed on <see cref="GEdgeTriggers.Postprocess"/>.</summary>
    public static IServiceCollection AddPostprocessStage(this IServiceCollection services)
    {
        services.AddRendering();
        services.AddJobIntermediates();
        return services.AddStage<PostprocessWork>(PipelineTopology.Postprocess);
    }
}
