using System.Threading.Channels;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.SystemTextJson;
using Microsoft.Extensions.Logging;
using Polly;

namespace GEdge.Events;

/// <summary>One function subscribed to the router: the trigger that selects its events and its handler.</summary>
public sealed record Subscription(EventTrigger Trigger, IEventSubscriber Handler);

/// <summary>
/// The broker of the embedded mode: delivers each published event to every subscription whose trigger filter
/// matches, and publishes the handler's reply in turn, as a Knative Broker does with a Trigger's subscriber reply.
/// Each event crosses a structured-mode JSON encoding on the way, so what works here works over HTTP.
/// </summary>
public sealed partial class InProcessEventRouter : IEventPublisher, IAsyncDisposable
{
    private readonly JsonEventFormatter _formatter = new();
    private readonly IReadOnlyList<(Subscription Subscription, Channel<CloudEvent> Queue)> _routes;
    private readonly List<Task> _workers = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly ResiliencePipeline<CloudEvent?> _delivery;
    private readonly DeliveryOptions _options;
    private readonly ILogger _logger;
    private int _disposed;

    /// <summary>Creates a router and starts one delivery loop per subscription.</summary>
    public InProcessEventRouter(IEnumerable<Subscription> subscriptions, DeliveryOptions options, ILogger<InProcessEventRouter> logger)
    {
        ArgumentNullException.ThrowIfNull(subscriptions);
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _delivery = DeliveryRetry.Create<CloudEvent?>(
            options,
            outcome => outcome.Exception is not null and not OperationCanceledException and not InvalidEventException,
            args =>
            {
                LogRetry(args.Outcome.Exception, args.AttemptNumber + 1, args.RetryDelay);
                return ValueTask.CompletedTask;
            });
        _routes = subscriptions.Select(s => (s, Channel.CreateUnbounded<CloudEvent>(new UnboundedChannelOptions { SingleReader = true }))).ToList();
        foreach (var (subscription, queue) in _routes)
        {
            _workers.Add(Task.Run(() => DeliverLoopAsync(subscription, queue.Reader, _stopping.Token)));
        }
    }

    /// <summary>Raised for every event the router accepts, before routing: what a broker's event display would show.</summary>
    public event Action<CloudEvent>? Published;

    /// <summary>Raised when an event could not be delivered after all retries (the dead-letter sink).</summary>
    public event Func<CloudEvent, EventTrigger, Exception, Task>? DeadLettered;

    /// <summary>Publishes an event to the subscriptions whose filters match it.</summary>
    public void Publish(CloudEvent cloudEvent)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        var onTheWire = ThroughTheWire(cloudEvent);
        Published?.Invoke(onTheWire);
        foreach (var (subscription, queue) in _routes)
        {
            if (subscription.Trigger.Filter.Matches(onTheWire))
            {
                queue.Writer.TryWrite(onTheWire);
                if (_options.DuplicateDeliveries)
                {
                    queue.Writer.TryWrite(ThroughTheWire(onTheWire));
                }
            }
        }
    }

    /// <inheritdoc />
    public Task PublishAsync(CloudEvent cloudEvent, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Publish(cloudEvent);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        foreach (var (_, queue) in _routes)
        {
            queue.Writer.TryComplete();
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping mid-delivery is what disposal asks for.
        }

        _stopping.Dispose();
    }

    private CloudEvent ThroughTheWire(CloudEvent cloudEvent)
    {
        var body = _formatter.EncodeStructuredModeMessage(cloudEvent, out var contentType);
        return _formatter.DecodeStructuredModeMessage(body, contentType, GEdgeEvents.ExtensionAttributes);
    }

    private async Task DeliverLoopAsync(Subscription subscription, ChannelReader<CloudEvent> queue, CancellationToken stopping)
    {
        await foreach (var cloudEvent in queue.ReadAllAsync(stopping).ConfigureAwait(false))
        {
            try
            {
                var reply = await _delivery.ExecuteAsync(
                    async ct => await subscription.Handler.HandleAsync(cloudEvent, ct).ConfigureAwait(false),
                    stopping).ConfigureAwait(false);
                if (reply is not null)
                {
                    Publish(reply);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogDeadLettered(e, cloudEvent.Id, subscription.Trigger.Subscriber);
                if (DeadLettered is { } sink)
                {
                    await sink(cloudEvent, subscription.Trigger, e).ConfigureAwait(false);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivery failed, retry {Attempt} in {Delay}")]
    private partial void LogRetry(Exception? exception, int attempt, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Event {EventId} for {Subscriber} dead-lettered after its retries")]
    private partial void LogDeadLettered(Exception exception, string? eventId, string subscriber);
}
