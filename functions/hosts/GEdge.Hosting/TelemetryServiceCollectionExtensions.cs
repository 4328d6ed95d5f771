using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace GEdge.Hosting;

/// <summary>
/// Traces, the same in every G-Edge process: OpenTelemetry's SDK listening to every G-Edge ActivitySource (the stages'
/// spans, which make a job one trace across processes, and the start-up parts), exported over OTLP when the standard
/// variables ask for it (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>, with
/// <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_BSP_SCHEDULE_DELAY</c>, ...), and nothing at all otherwise: no
/// listener, so no span is even created.
/// </summary>
public static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// The ActivitySources a trace carries: the stages' spans, the media tools' processes and probes, the job table's
    /// server and connection, the model session, the command line's parts. Left out: the per-frame inference
    /// (GEdge.Vision.Onnx.Inference) and the probes (GEdge.Hosting.Probes), which the start-up timings alone want.
    /// </summary>
    public static IReadOnlyList<string> Sources { get; } =
        ["GEdge.Stages", "GEdge.Media", "GEdge.JobTable", "GEdge.JobTable.Embedded", "GEdge.Vision.Onnx", "GEdge.Cli"];

    /// <summary>Whether <paramref name="configuration"/> asks for traces to be exported.</summary>
    public static bool ExportsTraces(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
            || !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);
    }

    /// <summary>
    /// Adds the tracer when <see cref="ExportsTraces"/>. The service is named by <c>OTEL_SERVICE_NAME</c> (the SDK reads
    /// it), else by Knative's <c>K_SERVICE</c>, else <paramref name="serviceName"/>. Every incoming HTTP request but the
    /// probes and Prometheus' scrapes is traced: a job's first event is made inside one (the jobs API's upload, a MinIO notification, the
    /// sweeper's ping), and an event made under a request left unsampled would carry "not sampled" to every stage after
    /// it, so no span of that job would be exported.
    /// </summary>
    public static IServiceCollection AddGEdgeTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!ExportsTraces(configuration))
        {
            return services;
        }

        var name = configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } named ? named : configuration["K_SERVICE"] is { Length: > 0 } knative ? knative : serviceName;
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(name))
            .WithTracing(tracing => tracing
                .AddSource([.. Sources])
                .AddAspNetCoreInstrumentation(options => options.Filter = context => !IsProbeOrScrape(context.Request.Path))
                .AddOtlpExporter());
        return services;
    }

    private static bool IsProbeOrScrape(PathString path) =>
        path.StartsWithSegments("/" + FunctionRoutes.Liveness, StringComparison.Ordinal)
        || path.StartsWithSegments("/" + FunctionRoutes.Readiness, StringComparison.Ordinal)
        || path.StartsWithSegments("/" + FunctionRoutes.Metrics, StringComparison.Ordinal);
}
