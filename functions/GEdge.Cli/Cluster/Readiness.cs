using System.Globalization;
using System.Text;
using GEdge.Vision.Onnx;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace GEdge.Cli.Cluster;

/// <summary>
/// The probes of a function process: <c>GET /healthz</c> says the process answers (liveness, no checks), and
/// <c>GET /readyz</c> runs the checks tagged <see cref="ReadyTag"/> (readiness: what it needs to take an event).
/// </summary>
internal static class Readiness
{
    /// <summary>The tag of the checks <c>/readyz</c> runs.</summary>
    public const string ReadyTag = "ready";

    /// <summary>The liveness path.</summary>
    public const string LivenessPath = "/healthz";

    /// <summary>The readiness path.</summary>
    public const string ReadinessPath = "/readyz";

    /// <summary>Adds health checks with the job table's: every function reads and moves jobs.</summary>
    public static IHealthChecksBuilder AddJobTableReadiness(this IServiceCollection services) =>
        services.AddHealthChecks().AddCheck<JobTableCheck>("job-table", tags: [ReadyTag]);

    /// <summary>Maps <c>/healthz</c> and <c>/readyz</c>; their text says which check failed and why.</summary>
    public static void MapProbes(this WebApplication app)
    {
        app.MapHealthChecks(LivenessPath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync });
        app.MapHealthChecks(ReadinessPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync });
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var text = new StringBuilder(report.Status.ToString()).Append('\n');
        foreach (var (name, entry) in report.Entries)
        {
            text.Append(CultureInfo.InvariantCulture, $"{name}: {entry.Status}: {entry.Description ?? entry.Exception?.Message}\n");
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text.ToString());
    }

    /// <summary>The job table answers a PING.</summary>
    private sealed class JobTableCheck(IServiceProvider services) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
        {
            try
            {
                var latency = await services.GetRequiredService<IConnectionMultiplexer>().GetDatabase().PingAsync().ConfigureAwait(false);
                return HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"answers in {latency.TotalMilliseconds:0.#} ms"));
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                return HealthCheckResult.Unhealthy($"does not answer: {e.Message}", e);
            }
        }
    }
}

/// <summary>Infer's readiness: its model is loaded (one session per process, loaded at start).</summary>
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
