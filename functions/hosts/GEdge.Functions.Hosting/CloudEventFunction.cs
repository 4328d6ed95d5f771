using GEdge.Events;
using GEdge.Events.AspNetCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Functions.Hosting;

/// <summary>What every CloudEvents function does, so each <c>[Function]</c> is one call.</summary>
public static class CloudEventFunction
{
    /// <summary>
    /// Hands the request's CloudEvent to <paramref name="subscriber"/> and answers with its reply, the Knative reply pattern
    /// of <see cref="CloudEventExchange"/>: 200 with the next event in binary mode, or 202 with no body. Failures throw,
    /// for <see cref="EventFailureMiddleware"/> to answer.
    /// </summary>
    public static async Task<IActionResult> DeliverAsync(HttpRequest request, IEventSubscriber subscriber, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return await RefuseAsync(request).ConfigureAwait(false)
            ?? new HttpResultAction(await CloudEventExchange.HandleAsync(request.HttpContext, subscriber, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// The 401 for a request whose sender may not send events (<see cref="EventSenderVerification"/>, as the ASP.NET Core
    /// hosts' event endpoints ask it); null when it may. Every event function asks it first.
    /// </summary>
    public static async Task<IActionResult?> RefuseAsync(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var verification = request.HttpContext.RequestServices.GetRequiredService<EventSenderVerification>();
        return await verification.RefuseAsync(request.HttpContext).ConfigureAwait(false) is { } refusal ? new HttpResultAction(refusal) : null;
    }
}
