using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GEdge.Events.AspNetCore;

/// <summary>Applies <see cref="EventFailures"/> to the endpoints mapped here: every failure of an event endpoint becomes its answer.</summary>
internal sealed class EventErrorFilter(ILogger<EventErrorFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Every failure must become an answer (a 500 at worst, so the sender retries), whatever its type.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return EventFailures.ToResult(context.HttpContext, e, logger);
        }
    }
}
