using GEdge.Vision.Onnx;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace GEdge.Infer;

/// <summary>
/// Infer's readiness: its model is loaded (one session per process, loaded at start), and on the provider asked for. A
/// pod that asked for CUDA and fell back to the CPU (ONNX Runtime 1.31's CUDA provider needs CUDA 13: an NVIDIA driver
/// of 580 or later and a GPU of compute capability 7.5 or more) is not ready: it would hold a GPU node and run at CPU
/// speed, which nobody would notice otherwise. The embedded `gedge run` still falls back, with the warning.
/// </summary>
internal sealed class ModelLoadedCheck(IServiceProvider services, IOptions<ObjectDetectorOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        try
        {
            var detector = services.GetRequiredService<ObjectDetector>();
            var asked = options.Value.ExecutionProvider;
            return Task.FromResult(detector.ExecutionProvider == asked
                ? HealthCheckResult.Healthy($"{detector.Manifest.Name} loaded on the {detector.ExecutionProvider} provider")
                : HealthCheckResult.Unhealthy(
                    $"{detector.Manifest.Name} runs on the {detector.ExecutionProvider} provider, but {ObjectDetectorOptions.SectionName}:" +
                    $"{nameof(ObjectDetectorOptions.ExecutionProvider)} asks for {asked}: the provider could not be loaded (the log's warning names " +
                    "what is missing; CUDA needs CUDA 13, an NVIDIA driver 580+ and a GPU of compute capability 7.5+). Set it to Cpu to run on the CPU on purpose."));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"the model could not be loaded: {e.Message}", e));
        }
    }
}
