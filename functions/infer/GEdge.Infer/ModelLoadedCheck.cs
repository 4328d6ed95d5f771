using GEdge.Vision.Onnx;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GEdge.Infer;

/// <summary>Infer's readiness: its model is loaded (one session per process, loaded at start), and on which provider.</summary>
internal sealed class ModelLoadedCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        try
        {
            var detector = services.GetRequiredService<ObjectDetector>();
            return Task.FromResult(HealthCheckResult.Healthy($"{detector.Manifest.Name} loaded on the {detector.ExecutionProvider} provider"));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"the model could not be loaded: {e.Message}", e));
        }
    }
}
