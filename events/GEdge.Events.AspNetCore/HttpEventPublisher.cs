using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Events.AspNetCore;

/// <summary>Where <see cref="HttpEventPublisher"/> sends events, bound from <c>Events</c>, with Knative's <c>K_SINK</c> as the fallback.</summary>
public sealed record EventSinkOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Events";

    /// <summary>The environment variable a Knative SinkBinding (or a ContainerSource) sets to the broker's address.</summary>
    public const string KnativeSinkVariable = "K_SINK";

    /// <summary>The broker's ingress URL; null leaves publishing unconfigured, and every publish fails saying so.</summary>
    public Uri? Sink { get; set; }
}

/// <summary>
/// Publishes events to the broker with an HTTP POST in binary mode, as Knative's ingress expects. It does not retry:
/// its callers answer their own sender with a 5xx on failure, and that sender's redelivery is the retry.
/// </summary>
public sealed partial class HttpEventPublisher(IHttpClientFactory httpClients, IOptions<EventSinkOptions> options, ILogger<HttpEventPublisher> logger) : IEventPublisher
{
    /// <summary>The name of the <see cref="HttpClient"/> the publisher uses, for a host that wants to configure it.</summary>
    public const string HttpClientName = "gedge-broker";

    private static readonly JsonEventFormatter s_formatter = new();

    /// <inheritdoc />
    public async Task PublishAsync(CloudEvent cloudEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        var sink = options.Value.Sink ?? throw new InvalidOperationException(
            $"No broker to publish to: neither {EventSinkOptions.SectionName}:{nameof(EventSinkOptions.Sink)} nor {EventSinkOptions.KnativeSinkVariable} is set.");

        using var content = cloudEvent.ToHttpContent(ContentMode.Binary, s_formatter);
        using var httpClient = httpClients.CreateClient(HttpClientName);
        using var response = await httpClient.PostAsync(sink, content, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException(
                $"The broker at {sink} refused event {cloudEvent.Id}: {(int)response.StatusCode} {response.ReasonPhrase}.",
                inner: null,
                response.StatusCode);
        }

        LogPublished(logger, cloudEvent.Id, cloudEvent.Type, sink);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Published {EventId} ({EventType}) to {Sink}")]
    private static partial void LogPublished(ILogger logger, string? eventId, string? eventType, Uri sink);
}
