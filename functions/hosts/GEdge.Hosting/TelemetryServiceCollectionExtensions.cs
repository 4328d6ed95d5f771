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
    /// <summary>The ActivitySources G-Edge's libraries report on (GEdge.Stages, GEdge.Media, GEdge.JobTable, ...).</summary>
    public const string Sources = "GEdge.*";

    /// <summary>Whether <paramref name="configuration"/> asks for traces to be exported.</summary>
    public static bool ExportsTraces(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
            || !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);
    }

    /// <summary>
    /// Adds the tracer when <see cref="ExportsTraces"/>. The service is named by <c>OTEL_SERVICE_NAME</c> (the SDK reads
    /// it), else by Knative's <c>K_SERVICE</c>, else <paramref name="serviceName"/>. Incoming HTTP requests are traced
    /// only on the jobs API (<c>/api</c>), where a job's trace begins with the upload; the events' deliveries are the
    /// stages' own spans, and probes are noise.
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
                .AddSource(Sources)
                .AddAspNetCoreInstrumentation(options => options.Filter = context => context.Request.Path.StartsWithSegments(new PathString("/api"), StringComparison.Ordinal))
                .AddOtlpExporter());
        return services;
    }
}
