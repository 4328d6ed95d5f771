using GEdge.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace GEdge.Functions.Hosting;

/// <summary>
/// <c>GET /metrics</c> for Prometheus, written by <see cref="FunctionMetrics"/> exactly as <c>gedge function</c> writes it.
/// The Functions host hands a request only to a function, so the endpoint is one here rather than middleware.
/// </summary>
public static class MetricsFunctions
{
    /// <summary>The process's series in Prometheus' text format.</summary>
    [Function("metrics")]
    public static async Task<IActionResult> MetricsAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = FunctionRoutes.Metrics)] HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        await FunctionMetrics.WriteAsync(request.HttpContext).ConfigureAwait(false);
        // The response is written.
        return new EmptyResult();
    }
}
