namespace GEdge.Events.Broker;

/// <summary>One pod of a Service as the broker sees it: its address and the deliveries it has in hand.</summary>
/// <param name="Address">The pod's address (scheme, host and port).</param>
/// <param name="InFlight">Deliveries sent to it, or waiting for one of its slots, and not yet answered.</param>
/// <param name="Ready">
/// Whether new deliveries go to it; a pod taken out of the Service's ready pods is listed, not ready, while deliveries
/// sent to it before are in flight, so whoever stops it can wait for them (as a pod is drained before it stops).
/// </param>
public sealed record PodLoad(Uri Address, int InFlight, bool Ready)
{
    /// <summary>The address part of a pod's URL: what identifies the pod, whichever path a Trigger delivers to on it.</summary>
    public static Uri AddressOf(Uri pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        return new(pod.GetLeftPart(UriPartial.Authority) + "/");
    }
}

/// <summary>
/// What the broker holds for one Knative Service: its <paramref name="Requests"/> (events queued for it, held for a pod,
/// in flight or between retries: the concurrency Knative's autoscaler scales a revision on, counted where its activator
/// and queue-proxies count it) and its ready pods, each with its own deliveries in flight.
/// </summary>
/// <param name="Service">The Service's name.</param>
/// <param name="Requests">Its requests not yet answered, wherever they wait.</param>
/// <param name="Pods">Its ready pods, and those taken out with deliveries still in flight.</param>
/// <param name="Autoscaled">Whether its pods are announced by an autoscaler (<see cref="BrokerOptions.Autoscaled"/>).</param>
public sealed record ServiceLoad(string Service, int Requests, IReadOnlyList<PodLoad> Pods, bool Autoscaled);

/// <summary>
/// The ready pods of one Service, as Knative's activator watches a revision's Endpoints: fixed for a Service the broker
/// is given addresses for, announced from outside (<see cref="Set"/>) for one that an autoscaler scales, which starts
/// with none. A delivery waits here for a first pod, as the activator holds a request for a revision scaled to zero.
/// </summary>
internal sealed class ServiceEndpoints
{
    private readonly Lock _lock = new();
    private readonly HashSet<Uri> _known = [];
    private Snapshot _current;

    public ServiceEndpoints(string service, IEnumerable<Uri> pods, bool autoscaled)
    {
        Service = service;
        Autoscaled = autoscaled;
        _current = new Snapshot([.. pods.Select(PodLoad.AddressOf).Distinct()]);
        _known.UnionWith(_current.Pods);
    }

    /// <summary>The Service's name.</summary>
    public string Service { get; }

    /// <summary>Whether an autoscaler announces its pods.</summary>
    public bool Autoscaled { get; }

    /// <summary>The addresses (scheme, host and port) of its ready pods.</summary>
    public IReadOnlyList<Uri> Pods => Volatile.Read(ref _current).Pods;

    /// <summary>Every pod it has had: the ready ones, and those since taken out.</summary>
    public IReadOnlyList<Uri> Known
    {
        get
        {
            lock (_lock)
            {
                return [.. _known];
            }
        }
    }

    /// <summary>Replaces the ready pods; deliveries waiting for one go on.</summary>
    public void Set(IEnumerable<Uri> pods)
    {
        var next = new Snapshot([.. pods.Select(PodLoad.AddressOf).Distinct()]);
        lock (_lock)
        {
            _known.UnionWith(next.Pods);
        }

        Interlocked.Exchange(ref _current, next).Changed.TrySetResult();
    }

    /// <summary>
    /// The ready pods, once there is one: at once if there are, else when one is announced, or an empty list after
    /// <paramref name="timeout"/>.
    /// </summary>
    public async Task<IReadOnlyList<Uri>> WaitForPodsAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (true)
        {
            var current = Volatile.Read(ref _current);
            if (current.Pods.Count > 0)
            {
                return current.Pods;
            }

            try
            {
                await current.Changed.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return [];
            }
        }
    }

    private sealed record Snapshot(IReadOnlyList<Uri> Pods)
    {
        public TaskCompletionSource Changed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
