using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using GEdge.Contracts;
using Microsoft.Extensions.Logging;
using Polly;

namespace GEdge.Events.Broker;

/// <summary>
/// One Trigger of the local broker, its subscriber's and dead-letter sink's addresses resolved: the subscriber's
/// Service address, and the addresses of its further pods when it runs several (<see cref="BrokerOptions.Replicas"/>),
/// how many requests one pod of it takes at once (its <c>containerConcurrency</c>; 0 is no limit), and whether each of
/// its requests holds one of the node's cores while it runs (<see cref="ServiceManifest.HoldsACore"/>).
/// </summary>
public sealed record BrokerRoute(
    EventTrigger Trigger, Uri Subscriber, DeliveryOptions Delivery, Uri? DeadLetterSink, IReadOnlyList<Uri>? Replicas = null, int ContainerConcurrency = 0, bool HoldsACore = false)
{
    /// <summary>Every address a delivery may go to: the Service's, then its further pods'.</summary>
    public IReadOnlyList<Uri> Pods { get; } = [Subscriber, .. Replicas ?? []];

    /// <summary>The routes of every Trigger, with the Services' addresses from <paramref name="options"/>.</summary>
    public static IReadOnlyList<BrokerRoute> Resolve(KnativeEventing eventing, BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(eventing);
        ArgumentNullException.ThrowIfNull(options);
        return eventing.Triggers
            .Select(t =>
            {
                var service = t.Subscriber.ServiceName is { } named ? eventing.Services?.GetValueOrDefault(named) : null;
                return new BrokerRoute(
                    t.Trigger,
                    t.Subscriber.Resolve(options.Services),
                    t.Delivery with { DuplicateDeliveries = options.DuplicateDeliveries },
                    t.DeadLetterSink?.Resolve(options.Services),
                    t.Subscriber.ServiceName is { } name && options.Replicas.TryGetValue(name, out var replicas)
                        ? [.. replicas.Select(replica => t.Subscriber.Resolve(new Dictionary<string, Uri>(StringComparer.Ordinal) { [name] = replica }))]
                        : null,
                    service?.ContainerConcurrency ?? 0,
                    service?.HoldsACore ?? false);
            })
            .ToList();
    }
}

/// <summary>
/// The broker of the local cluster, doing over HTTP what a Knative Broker does: it takes events at its ingress, sends
/// each to the subscriber of every Trigger whose filter matches (binary mode), publishes the subscriber's reply back
/// into itself, retries failed deliveries as the Trigger's delivery spec says, and then hands the event to the
/// dead-letter sink with Knative's <c>knativeerror*</c> attributes saying why.
/// </summary>
public sealed partial class HttpEventBroker : IEventPublisher, IAsyncDisposable
{
    /// <summary>The name of the <see cref="HttpClient"/> deliveries use.</summary>
    public const string HttpClientName = "gedge-broker-delivery";

    private static readonly JsonEventFormatter s_formatter = new();
    private static readonly CloudEventAttribute[] s_knownAttributes = [.. GEdgeEvents.ExtensionAttributes, .. DeadLetterAttributes.All];

    private static readonly TimeSpan s_activatorPoll = TimeSpan.FromMilliseconds(250);

    private readonly IReadOnlyList<Route> _routes;
    private readonly ResiliencePipeline<HttpResponseMessage> _activator;
    private readonly IHttpClientFactory _httpClients;
    private readonly ILogger<HttpEventBroker> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _workers = [];
    // Keyed by the URL a delivery went to; a pod's load (LoadOf) is the sum over its address, whichever Trigger's path.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Uri, int> _inFlight = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _requests = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ServiceEndpoints> _endpoints;
    private readonly TimeSpan _activatorTimeout;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _podSlots = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim? _nodeCores;
    private int _turn;
    private int _disposed;

    /// <summary>Creates the broker and starts <see cref="BrokerOptions.MaxConcurrentDeliveries"/> delivery loops per route.</summary>
    public HttpEventBroker(IReadOnlyList<BrokerRoute> routes, BrokerOptions options, IHttpClientFactory httpClients, ILogger<HttpEventBroker> logger)
    {
        ArgumentNullException.ThrowIfNull(routes);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Problem() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        _httpClients = httpClients ?? throw new ArgumentNullException(nameof(httpClients));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _activator = CreateActivator(options.ActivatorTimeout);
        _activatorTimeout = options.ActivatorTimeout;
        _nodeCores = options.NodeCores > 0 ? new SemaphoreSlim(options.NodeCores) : null;
        // One set of pods per Service, whichever Triggers deliver to it: the Service's address and its further pods', or
        // none yet for one an autoscaler scales.
        _endpoints = routes
            .GroupBy(r => r.Trigger.Subscriber, StringComparer.Ordinal)
            .ToDictionary(
                g => g.Key,
                g => options.Autoscaled.Contains(g.Key)
                    ? new ServiceEndpoints(g.Key, [], autoscaled: true)
                    : new ServiceEndpoints(g.Key, g.First().Pods, autoscaled: false),
                StringComparer.Ordinal);
        _routes = routes.Select(r => new Route(r, Channel.CreateUnbounded<CloudEvent>(), CreateRetry(r), _endpoints[r.Trigger.Subscriber])).ToList();
        foreach (var route in _routes)
        {
            // At least one delivery per pod at once, so a Service with more pods than that keeps them all busy.
            for (var i = 0; i < Math.Max(options.MaxConcurrentDeliveries, route.Definition.Pods.Count); i++)
            {
                _workers.Add(Task.Run(() => DeliverLoopAsync(route, _stopping.Token)));
            }
        }
    }

    // The least loaded of the Service's ready pods, ties taken in turn, as the URL the route delivers to on it; waits for a
    // first pod of a Service scaled to zero, as Knative's activator holds the request, up to BrokerOptions.ActivatorTimeout.
    private async Task<Uri> PickPodAsync(Route route, CancellationToken cancellationToken)
    {
        if (!route.Endpoints.Autoscaled)
        {
            return PickPod(route.Definition.Pods);
        }

        var pods = route.Endpoints.Pods;
        if (pods.Count == 0)
        {
            LogWaitingForPod(route.Endpoints.Service);
            pods = await route.Endpoints.WaitForPodsAsync(_activatorTimeout, cancellationToken).ConfigureAwait(false);
            if (pods.Count == 0)
            {
                throw new HttpRequestException($"No pod of {route.Endpoints.Service} became ready within {_activatorTimeout.TotalSeconds} s.");
            }
        }

        // The Trigger's path on each ready pod.
        var subscriber = route.Definition.Subscriber;
        return PickPod([.. pods.Select(pod => new UriBuilder(subscriber) { Scheme = pod.Scheme, Host = pod.Host, Port = pod.Port }.Uri)]);
    }

    // The deliveries in hand at the pod at `address`, from every Trigger.
    private int LoadOf(Uri address) => _inFlight.Where(entry => PodLoad.AddressOf(entry.Key) == address).Sum(entry => entry.Value);

    private Uri PickPod(IReadOnlyList<Uri> pods)
    {
        if (pods.Count == 1)
        {
            return pods[0];
        }

        var turn = (int)((uint)Interlocked.Increment(ref _turn) % (uint)pods.Count);
        var best = pods[turn];
        for (var i = 1; i < pods.Count; i++)
        {
            var pod = pods[(turn + i) % pods.Count];
            if (LoadOf(PodLoad.AddressOf(pod)) < LoadOf(PodLoad.AddressOf(best)))
            {
                best = pod;
            }
        }

        return best;
    }

    // A pod's requests in flight are at most its Service's containerConcurrency, whichever Trigger sends them; the rest
    // wait their turn, as Knative's queue-proxy holds them (knative/serving pkg/queue/breaker.go: "enforces a
    // concurrency limit ... maintains a queue of function executions in excess of the concurrency limit"). Without it a
    // stage process took every segment sent to it at once, and each request grew with the queue (a 10-minute 1080p
    // video's longest request took 110 s; held to containerConcurrency, 48 s, with every stage sharing 2 cores). Null
    // for no limit.
    private SemaphoreSlim? SlotsOf(Uri pod, int containerConcurrency) =>
        containerConcurrency <= 0 ? null : _podSlots.GetOrAdd(pod.GetLeftPart(UriPartial.Authority), _ => new SemaphoreSlim(containerConcurrency));

    // A delivery's hold on a pod: counted in flight there (the load PickPod balances) from the moment it is sent, and
    // holding one of the pod's slots (SlotsOf) while its request runs, then, for CPU-bound work, one of the node's cores
    // (BrokerOptions.NodeCores); disposing gives all back. The core is taken last, so a request that waits for its pod
    // holds no core meanwhile.
    private async Task<PodHold> HoldPodAsync(Uri pod, BrokerRoute route, CancellationToken cancellationToken)
    {
        _inFlight.AddOrUpdate(pod, 1, (_, count) => count + 1);
        var slots = SlotsOf(pod, route.ContainerConcurrency);
        var core = route.HoldsACore ? _nodeCores : null;
        var tookSlot = false;
        try
        {
            if (slots is not null)
            {
                await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                tookSlot = true;
            }

            if (core is not null)
            {
                // SemaphoreSlim hands its slots to async waiters first come, first served: no stage starves another.
                await core.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            if (tookSlot)
            {
                slots!.Release();
            }

            _inFlight.AddOrUpdate(pod, 0, (_, count) => count - 1);
            throw;
        }

        return new PodHold(this, pod, slots, core);
    }

    private sealed class PodHold(HttpEventBroker broker, Uri pod, SemaphoreSlim? slots, SemaphoreSlim? core) : IDisposable
    {
        public void Dispose()
        {
            core?.Release();
            slots?.Release();
            broker._inFlight.AddOrUpdate(pod, 0, (_, count) => count - 1);
        }
    }

    /// <summary>The routes, one per Trigger.</summary>
    public IReadOnlyList<BrokerRoute> Routes => _routes.Select(r => r.Definition).ToList();

    /// <summary>What each Service the Triggers deliver to has waiting and in flight, pod by pod: what an autoscaler reads.</summary>
    public IReadOnlyList<ServiceLoad> Load() =>
    [
        .. _endpoints.Values.Select(service => new ServiceLoad(
            service.Service,
            _requests.GetValueOrDefault(service.Service),
            [
                .. service.Pods.Select(pod => new PodLoad(pod, LoadOf(pod), Ready: true)),
                .. service.Known.Except(service.Pods)
                    .Select(pod => new PodLoad(pod, LoadOf(pod), Ready: false))
                    .Where(pod => pod.InFlight > 0),
            ],
            service.Autoscaled)),
    ];

    /// <summary>
    /// Announces the ready pods of the autoscaled Service <paramref name="service"/> (<see cref="BrokerOptions.Autoscaled"/>):
    /// new deliveries go to these only; one already sent to a pod left out finishes there.
    /// </summary>
    /// <exception cref="ArgumentException">The Service is not one the broker delivers to, or is not autoscaled.</exception>
    public void SetPods(string service, IReadOnlyList<Uri> pods)
    {
        ArgumentNullException.ThrowIfNull(pods);
        if (!_endpoints.TryGetValue(service, out var endpoints) || !endpoints.Autoscaled)
        {
            throw new ArgumentException($"{service} is not a Service whose pods are announced: the autoscaled ones are {string.Join(", ", _endpoints.Values.Where(e => e.Autoscaled).Select(e => e.Service))}.", nameof(service));
        }

        if (pods.FirstOrDefault(pod => !pod.IsAbsoluteUri || pod.Scheme is not ("http" or "https")) is { } wrong)
        {
            throw new ArgumentException($"{wrong} is not an http(s) address.", nameof(pods));
        }

        endpoints.Set(pods);
        LogPods(service, pods.Count);
    }

    /// <summary>Queues <paramref name="cloudEvent"/> for every route whose filter matches it (twice each with duplicate deliveries).</summary>
    public void Publish(CloudEvent cloudEvent)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var subscribers = new List<string>();
        foreach (var route in _routes)
        {
            if (route.Definition.Trigger.Filter.Matches(cloudEvent))
            {
                subscribers.Add(route.Definition.Trigger.Subscriber);
                Enqueue(route, cloudEvent);
                if (route.Definition.Delivery.DuplicateDeliveries)
                {
                    Enqueue(route, cloudEvent);
                }
            }
        }

        LogAccepted(cloudEvent.Id, cloudEvent.Type, cloudEvent[GEdgeEvents.JobStatusAttribute.Name] as string, subscribers.Count == 0 ? "no trigger" : string.Join(", ", subscribers));
    }

    // A request for the route's Service from the moment it is queued until its delivery ends, answered or dead-lettered.
    private void Enqueue(Route route, CloudEvent cloudEvent)
    {
        _requests.AddOrUpdate(route.Endpoints.Service, 1, (_, count) => count + 1);
        if (!route.Queue.Writer.TryWrite(cloudEvent))
        {
            _requests.AddOrUpdate(route.Endpoints.Service, 0, (_, count) => count - 1);
        }
    }

    /// <inheritdoc />
    public Task PublishAsync(CloudEvent cloudEvent, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Publish(cloudEvent);
        return Task.CompletedTask;
    }

    /// <summary>Stops delivering; events still queued or in flight are dropped, as a stopped broker pod's would be.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var route in _routes)
        {
            route.Queue.Writer.TryComplete();
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_workers).ConfigureAwait(false);
        _stopping.Dispose();
        foreach (var slots in _podSlots.Values)
        {
            slots.Dispose();
        }

        _nodeCores?.Dispose();
    }

    private ResiliencePipeline<HttpResponseMessage> CreateRetry(BrokerRoute route) => DeliveryRetry.Create<HttpResponseMessage>(
        route.Delivery,
        IsWorthRetrying,
        args =>
        {
            LogRetry(args.Outcome.Exception, route.Subscriber, (int?)args.Outcome.Result?.StatusCode, args.AttemptNumber + 1, args.RetryDelay);
            // The retried response is not returned to anyone: release its connection now.
            args.Outcome.Result?.Dispose();
            return ValueTask.CompletedTask;
        });

    /// <summary>
    /// Knative's activator, as far as a delivery sees it: a Service whose process is not listening (starting, or started
    /// again after it died) holds the request instead of failing it, polled every 250 ms for up to
    /// <paramref name="timeout"/>. Only a refused connection is held; anything else is the Trigger's retry policy's.
    /// </summary>
    private ResiliencePipeline<HttpResponseMessage> CreateActivator(TimeSpan timeout)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        var attempts = (int)(timeout / s_activatorPoll);
        if (attempts > 0)
        {
            builder.AddRetry(new Polly.Retry.RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = attempts,
                Delay = s_activatorPoll,
                BackoffType = DelayBackoffType.Constant,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is HttpRequestException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionRefused } }),
                OnRetry = args =>
                {
                    if (args.AttemptNumber == 0)
                    {
                        LogHeld(args.Context.OperationKey);
                    }

                    return ValueTask.CompletedTask;
                },
            });
        }

        return builder.Build();
    }

    /// <summary>
    /// What Knative's dispatcher retries: no answer at all, a timeout, and the statuses that say "not now" rather than
    /// "never": 404 (a route not ready yet), 408, 409, 429 and every 5xx. Any other 4xx is the sender's fault and goes
    /// straight to the dead-letter sink.
    /// </summary>
    private static bool IsWorthRetrying(Outcome<HttpResponseMessage> outcome) => outcome switch
    {
        { Exception: HttpRequestException } => true,
        { Exception: TaskCanceledException { InnerException: TimeoutException } } => true,
        { Result: { } response } => response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.RequestTimeout
            or HttpStatusCode.Conflict or HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500,
        _ => false,
    };

    private async Task DeliverLoopAsync(Route route, CancellationToken stopping)
    {
        try
        {
            await foreach (var cloudEvent in route.Queue.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                try
                {
                    await DeliverAsync(route, cloudEvent, stopping).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
                {
                    // One event's unexpected failure must not stop this Trigger's deliveries.
                    LogDeliveryBroken(e, cloudEvent.Id, route.Definition.Trigger.Name);
                }
                finally
                {
                    _requests.AddOrUpdate(route.Endpoints.Service, 0, (_, count) => count - 1);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task DeliverAsync(Route route, CloudEvent cloudEvent, CancellationToken stopping)
    {
        var subscriber = route.Definition.Subscriber;
        HttpResponseMessage response;
        try
        {
            response = await route.Retry.ExecuteAsync(
                ct => ActivateAsync(
                    route.Endpoints.Service,
                    async held =>
                    {
                        // Each attempt goes to the pod with the fewest deliveries in flight, as Knative's activator balances
                        // by load: a stage answers when its work is done, so in-flight deliveries are its work in hand. A
                        // pod that refuses the connection (started again, or stopped by the autoscaler since) is left for
                        // the pods ready when the activator tries again.
                        subscriber = await PickPodAsync(route, held).ConfigureAwait(false);
                        using var pod = await HoldPodAsync(subscriber, route.Definition, held).ConfigureAwait(false);
                        return await PostAsync(subscriber, cloudEvent, held).ConfigureAwait(false);
                    },
                    ct),
                stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !stopping.IsCancellationRequested))
        {
            await DeadLetterAsync(route, cloudEvent, null, System.Text.Encoding.UTF8.GetBytes(e.Message), stopping).ConfigureAwait(false);
            return;
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var body = await ReadPrefixAsync(response, DeadLetterAttributes.MaxErrorDataBytes, stopping).ConfigureAwait(false);
                await DeadLetterAsync(route, cloudEvent, (int)response.StatusCode, body, stopping).ConfigureAwait(false);
                return;
            }

            LogDelivered(cloudEvent.Id, subscriber, (int)response.StatusCode);
            if (!response.IsCloudEvent())
            {
                return;
            }

            CloudEvent reply;
            try
            {
                reply = await response.ToCloudEventAsync(s_formatter, GEdgeEvents.ExtensionAttributes).ConfigureAwait(false);
            }
            catch (ArgumentException e)
            {
                // Knative treats an unreadable reply as a failed delivery: the subscriber's work is lost otherwise.
                await DeadLetterAsync(route, cloudEvent, (int)response.StatusCode, System.Text.Encoding.UTF8.GetBytes($"The reply is not a valid CloudEvent: {e.Message}"), stopping).ConfigureAwait(false);
                return;
            }

            Publish(reply);
        }
    }

    // One attempt through the activator: `attempt` is tried again while it finds the connection refused, named by `held`
    // in the log.
    private async ValueTask<HttpResponseMessage> ActivateAsync(string held, Func<CancellationToken, Task<HttpResponseMessage>> attempt, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(held, cancellationToken);
        try
        {
            return await _activator.ExecuteAsync(
                static async (context, attempt) => await attempt(context.CancellationToken).ConfigureAwait(false),
                context,
                attempt).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async Task<HttpResponseMessage> PostAsync(Uri target, CloudEvent cloudEvent, CancellationToken cancellationToken)
    {
        using var content = cloudEvent.ToHttpContent(ContentMode.Binary, s_formatter);
        var client = _httpClients.CreateClient(HttpClientName);
        return await client.PostAsync(target, content, cancellationToken).ConfigureAwait(false);
    }

    private async Task DeadLetterAsync(Route route, CloudEvent cloudEvent, int? statusCode, ReadOnlyMemory<byte> errorData, CancellationToken stopping)
    {
        var subscriber = route.Definition.Subscriber;
        LogDeliveryFailed(cloudEvent.Id, subscriber, statusCode, route.Definition.Delivery.Retry);
        if (route.Definition.DeadLetterSink is not { } sink)
        {
            LogDropped(cloudEvent.Id, route.Definition.Trigger.Name);
            return;
        }

        // A copy through the wire format: the queued event may still be in another worker's hands (duplicates).
        var body = s_formatter.EncodeStructuredModeMessage(cloudEvent, out var contentType);
        var letter = s_formatter.DecodeStructuredModeMessage(body, contentType, s_knownAttributes);
        DeadLetterAttributes.Set(letter, subscriber, statusCode, errorData.Span);
        try
        {
            using var response = await route.Retry.ExecuteAsync(ct => ActivateAsync(sink.ToString(), held => PostAsync(sink, letter, held), ct), stopping).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                LogDeadLettered(cloudEvent.Id, sink);
            }
            else
            {
                LogDeadLetterLost(null, cloudEvent.Id, sink, $"it answered {(int)response.StatusCode}");
            }
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !stopping.IsCancellationRequested))
        {
            LogDeadLetterLost(e, cloudEvent.Id, sink, "it could not be reached");
        }
    }

    private static async Task<ReadOnlyMemory<byte>> ReadPrefixAsync(HttpResponseMessage response, int limit, CancellationToken cancellationToken)
    {
        var buffer = new byte[limit];
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var read = await stream.ReadAtLeastAsync(buffer, limit, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        return buffer.AsMemory(0, read);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Accepted {EventId} ({EventType}, jobstatus {JobStatus}) for {Subscribers}")]
    private partial void LogAccepted(string? eventId, string? eventType, string? jobStatus, string subscribers);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Subscriber} is not listening (starting or started again); the delivery waits for it, as Knative's activator would")]
    private partial void LogHeld(string? subscriber);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Service} has no ready pod (scaled to zero); the delivery waits for one, as Knative's activator would")]
    private partial void LogWaitingForPod(string service);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Service} has {Pods} ready pod(s)")]
    private partial void LogPods(string service, int pods);

    [LoggerMessage(Level = LogLevel.Information, Message = "Delivered {EventId} to {Subscriber}: {StatusCode}")]
    private partial void LogDelivered(string? eventId, Uri subscriber, int statusCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivery to {Subscriber} failed (status {StatusCode}); retry {Attempt} in {Delay}")]
    private partial void LogRetry(Exception? exception, Uri subscriber, int? statusCode, int attempt, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "{EventId} could not be delivered to {Subscriber} (last status {StatusCode}) after {Retries} retries")]
    private partial void LogDeliveryFailed(string? eventId, Uri subscriber, int? statusCode, int retries);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{EventId} handed to the dead-letter sink {Sink}")]
    private partial void LogDeadLettered(string? eventId, Uri sink);

    [LoggerMessage(Level = LogLevel.Error, Message = "{EventId} is lost: the dead-letter sink {Sink} did not take it, {Problem}")]
    private partial void LogDeadLetterLost(Exception? exception, string? eventId, Uri sink, string problem);

    [LoggerMessage(Level = LogLevel.Error, Message = "Delivering {EventId} for the Trigger {Trigger} failed unexpectedly; the event is dropped")]
    private partial void LogDeliveryBroken(Exception exception, string? eventId, string trigger);

    [LoggerMessage(Level = LogLevel.Error, Message = "{EventId} is dropped: the Trigger {Trigger} has no dead-letter sink")]
    private partial void LogDropped(string? eventId, string trigger);

    private sealed record Route(BrokerRoute Definition, Channel<CloudEvent> Queue, ResiliencePipeline<HttpResponseMessage> Retry, ServiceEndpoints Endpoints);
}
