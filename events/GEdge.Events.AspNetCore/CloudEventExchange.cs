using CloudNative.CloudEvents.SystemTextJson;
using Microsoft.AspNetCore.Http;

namespace GEdge.Events.AspNetCore;

/// <summary>
/// One delivery to a subscriber over HTTP, the Knative reply pattern: the request's CloudEvent (binary or structured
/// mode) goes to the subscriber, and its reply comes back as 200 with the event in binary mode, or 202 with no body when
/// there is none. The endpoints mapped here and the Azure Functions hosts both answer this way.
/// </summary>
public static class CloudEventExchange
{
    // Stateless and thread-safe: one formatter serves every request.
    private static readonly JsonEventFormatter s_formatter = new();

    /// <summary>
    /// Hands the request's event to <paramref name="subscriber"/> and returns the answer. A malformed event throws
    /// <see cref="MalformedCloudEventException"/> before the subscriber is called; <see cref="EventFailures"/> maps it.
    /// </summary>
    public static async Task<IResult> HandleAsync(HttpContext context, IEventSubscriber subscriber, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(subscriber);
        var cloudEvent = await context.Request.ReadCloudEventAsync(s_formatter, GEdgeEvents.ExtensionAttributes, cancellationToken).ConfigureAwait(false);
        EventFailures.NoteEvent(context, cloudEvent);
        var reply = await subscriber.HandleAsync(cloudEvent, cancellationToken).ConfigureAwait(false);
        return reply is null ? TypedResults.Accepted((string?)null) : new CloudEventReply(reply, s_formatter);
    }
}
