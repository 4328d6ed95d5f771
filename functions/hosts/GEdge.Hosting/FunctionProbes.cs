using System.Globalization;
using System.Text;
using GEdge.Stages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace GEdge.Hosting;

/// <summary>What a probe answers: its status code and its text.</summary>
public sealed record ProbeAnswer(int StatusCode, string Text);

/// <summary>
/// The probes of every function, the same in every host: <c>GET /healthz</c> says the process answers (liveness, no
/// checks), and <c>GET /readyz</c> runs the checks tagged <see cref="ReadyTag"/> (readiness: what it needs to take an
/// event): the job table answers, the function's subscribers are built (its storage client, its stage), and what a
/// stage adds of its own (Infer: its model loaded). Their text names each check, its state and why.
/// </summary>
public static class FunctionProbes
{
    /// <summary>
    /// The probes' activity <c>readiness check</c>, each run of the ready checks (tagged with the answer's status code), for
    /// the start-up timings; a tracer leaves it out, as it leaves the probes' requests.
    /// </summary>
    public static readonly System.Diagnostics.ActivitySource Activities = new("GEdge.Hosting.Probes");

    /// <summary>The tag of the checks <c>/readyz</c> runs.</summary>
    public const string ReadyTag = StageServiceCollectionExtensions.ReadinessTag;

    /// <summary>
    /// Adds the readiness checks every function has: the job table answers a PING, and the function's subscribers are
    /// built (building them connects the store and loads the stage; a failure is the reason it is not ready).
    /// </summary>
    public static IHealthChecksBuilder AddFunctionProbes(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddHealthChecks()
            .AddCheck<JobTableCheck>("job-table", tags: [ReadyTag])
            .AddCheck<SubscribersCheck>("subscribers", tags: [ReadyTag]);
    }

    /// <summary>Maps <c>/healthz</c> and <c>/readyz</c> (an ASP.NET Core host); they answer as <see cref="Liveness"/> and <see cref="ReadinessAsync"/>.</summary>
    public static void MapFunctionProbes(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/" + FunctionRoutes.Liveness, () => Write(Liveness()));
        endpoints.MapGet("/" + FunctionRoutes.Readiness, async (IServiceProvider services, CancellationToken cancellationToken) =>
            Write(await ReadinessAsync(services, cancellationToken).ConfigureAwait(false)));
    }

    /// <summary>The liveness answer: 200 while the process runs.</summary>
    public static ProbeAnswer Liveness() => new(StatusCodes.Status200OK, "alive\n");

    /// <summary>The readiness answer: 200 when every ready check passes, 503 otherwise; the text lists them.</summary>
    public static async Task<ProbeAnswer> ReadinessAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        using var checking = Activities.StartActivity("readiness check");
        var report = await services.GetRequiredService<HealthCheckService>()
            .CheckHealthAsync(check => check.Tags.Contains(ReadyTag), cancellationToken).ConfigureAwait(false);
        var text = new StringBuilder(report.Status.ToString()).Append('\n');
        foreach (var (name, entry) in report.Entries)
        {
            text.Append(CultureInfo.InvariantCulture, $"{name}: {entry.Status}: {entry.Description ?? entry.Exception?.Message}\n");
        }

        var status = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
        checking?.SetTag("status", status);
        return new ProbeAnswer(status, text.ToString());
    }

    private static IResult Write(ProbeAnswer answer) =>
        Results.Text(answer.Text, "text/plain; charset=utf-8", Encoding.UTF8, answer.StatusCode);

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

    /// <summary>The function's subscribers are built: what its events need is loaded, so the first event pays no cold start.</summary>
    private sealed class SubscribersCheck(IServiceProvider services) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
        {
            try
            {
                // Resolved here, not injected: a failure to build them is the answer, not a failed probe.
                var subscribers = services.GetRequiredService<EventSubscribers>();
                return Task.FromResult(HealthCheckResult.Healthy($"built for {subscribers}"));
            }
#pragma warning disable CA1031 // Whatever stops the subscribers from being built makes the function unready, and says why.
            catch (Exception e)
#pragma warning restore CA1031
            {
                return Task.FromResult(HealthCheckResult.Unhealthy($"could not be built: {e.Message}", e));
            }
        }
    }
}
