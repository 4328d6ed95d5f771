using GEdge.Artifacts;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.Stages;
using GEdge.Vision.Onnx;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Infer;

/// <summary>Registers the Infer stage.</summary>
public static class InferServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Infer stage and its detector (one session per process), subscribed on <see cref="GEdgeTriggers.Infer"/>,
    /// and its readiness check: the model is loaded.
    /// </summary>
    public static IServiceCollection AddInferStage(this IServiceCollection services)
    {
        services.AddObjectDetector();
        services.AddJobIntermediates();
        services.AddHealthChecks().AddCheck<ModelLoadedCheck>("model", tags: [StageServiceCollectionExtensions.ReadinessTag]);
        // The pipeline's model is the detector's, so Preprocess and Infer in one process cannot disagree.
        services.AddSingleton(provider => provider.GetRequiredService<ObjectDetector>().Manifest);
        services.AddSingleton<IStageDevice, InferDevice>();
        return services.AddStage<InferWork>(PipelineTopology.Infer);
    }
}

/// <summary>Infer computes on its detector's execution provider (<c>cpu</c>, or <c>cuda</c> where CUDA loaded).</summary>
internal sealed class InferDevice(ObjectDetector detector) : IStageDevice
{
    public PipelineStage Stage => PipelineTopology.Infer;

    public string Name => detector.ExecutionProvider.ToString().ToLowerInvariant();
}
