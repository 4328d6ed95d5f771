using GEdge.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Hosting;

/// <summary>
/// <c>GET /metrics</c>, the same in every host: the process's <see cref="GEdgeMetrics"/> in Prometheus' text format, for
/// Prometheus to scrape (the Knative Services carry the scrape annotations; <c>gedge serve</c> writes a scrape config).
/// </summary>
public static class FunctionMetrics
{
    /// <summary>Maps <c>/metrics</c> (an ASP.NET Core host).</summary>
    public static void MapFunctionMetrics(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/" + FunctionRoutes.Metrics, WriteAsync);
    }

    /// <summary>Writes the process's series as <paramref name="context"/>'s response.</summary>
    public static Task WriteAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var metrics = context.RequestServices.GetRequiredService<GEdgeMetrics>();
        context.Response.ContentType = GEdgeMetrics.ContentType;
        return metrics.WriteAsync(context.Response.Body, context.RequestAborted);
    }
}
