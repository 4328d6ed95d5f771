using GEdge.Events.AspNetCore;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;
using Microsoft.Extensions.Logging;

namespace GEdge.Functions.Hosting;

/// <summary>
/// Turns a failing HTTP function's exception into its answer with <see cref="EventFailures"/>, the same table the
/// ASP.NET Core endpoints use: a sender's mistake is a 4xx that a Broker does not retry, anything else a logged 500 that
/// it does. It must run inside the ASP.NET Core integration's middleware, where the request's HttpContext is known
/// (<see cref="GEdgeFunctionExtensions.UseEventFailures"/>, called after <c>ConfigureFunctionsWebApplication</c>, puts it there).
/// </summary>
public sealed class EventFailureMiddleware(ILogger<EventFailureMiddleware> logger) : IFunctionsWorkerMiddleware
{
    /// <inheritdoc />
    public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            await next(context).ConfigureAwait(false);
        }
        // Once the response has started, no status can be given: the host reports the failure as it is.
        catch (Exception e) when (context.GetHttpContext() is { Response.HasStarted: false })
        {
            var http = context.GetHttpContext()!;
            await EventFailures.ToResult(http, e, logger).ExecuteAsync(http).ConfigureAwait(false);
        }
    }
}
