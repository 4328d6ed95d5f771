using GEdge.Hosting;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Hosting;

namespace GEdge.Functions.Hosting;

/// <summary>The worker setup every G-Edge function app shares; its services are the hosting library's <c>AddGEdgeFunction</c>.</summary>
public static class GEdgeFunctionExtensions
{
    /// <summary>
    /// Answers every function's failures with <see cref="EventFailureMiddleware"/>. Call it after
    /// <c>ConfigureFunctionsWebApplication</c>: middleware runs in the order it is added, and this one must run within the
    /// ASP.NET Core integration's, which hands it the request's HttpContext.
    /// </summary>
    public static IFunctionsWorkerApplicationBuilder UseEventFailures(this IFunctionsWorkerApplicationBuilder worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return worker.UseMiddleware<EventFailureMiddleware>();
    }
}
