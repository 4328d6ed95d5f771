using CloudNative.CloudEvents;

namespace GEdge.Events;

/// <summary>
/// Sends an event to the broker. For producers whose event is not the reply to a delivery (the MinIO webhook, an
/// upload gateway): a Knative subscriber replies, anything else publishes.
/// </summary>
public interface IEventPublisher
{
    /// <summary>Hands <paramref name="cloudEvent"/> to the broker; completes once the broker has accepted it.</summary>
    Task PublishAsync(CloudEvent cloudEvent, CancellationToken cancellationToken = default);
}
