namespace GEdge.Events.Broker;

/// <summary>Settings of the local broker, bound from the <c>Broker</c> section (<c>Broker__Services__infer=http://...</c>).</summary>
public sealed record BrokerOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Broker";

    /// <summary>The folder with <c>broker.yaml</c> and <c>triggers.yaml</c>; null finds <c>knative/</c> (<see cref="KnativeEventing.FindDirectory"/>).</summary>
    public string? ManifestsDirectory { get; init; }

    /// <summary>
    /// The address of each Knative Service the manifests name, by name: what Knative's addressable resolution does in
    /// a cluster, the local cluster states here.
    /// </summary>
    public Dictionary<string, Uri> Services { get; init; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Further pods of a Service, by its name, beside its address in <see cref="Services"/>
    /// (<c>Broker__Replicas__postprocess__0=http://...</c>): deliveries to the Service go to the least loaded of them, as
    /// Knative's activator spreads requests over a Service's pods.
    /// </summary>
    public Dictionary<string, List<Uri>> Replicas { get; init; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Services an autoscaler scales (<c>gedge serve --scale-to-zero</c>; <c>Broker__Autoscaled__0=infer</c>): they start
    /// with no pod, and the autoscaler announces the ready ones (<c>PUT /endpoints/NAME</c>) as Knative's activator learns
    /// a revision's from its Endpoints; a delivery to one with none waits up to <see cref="ActivatorTimeout"/> for one.
    /// Their addresses in <see cref="Services"/> and <see cref="Replicas"/> are not used for delivery.
    /// </summary>
    public List<string> Autoscaled { get; init; } = [];

    /// <summary>Deliver every event twice, as an at-least-once broker may: the local cluster's test of idempotency.</summary>
    public bool DuplicateDeliveries { get; init; }

    /// <summary>
    /// Deliveries in flight per Trigger at once. Knative's dispatchers deliver concurrently too, so duplicates and
    /// jobs overlap here as they do there.
    /// </summary>
    public int MaxConcurrentDeliveries { get; init; } = 4;

    /// <summary>
    /// How long one delivery may take. A stage answers when its work is done (the reply pattern), so this bounds a
    /// whole stage run: long enough for a long video on a CPU.
    /// </summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// How long a delivery waits for a subscriber that refuses connections (its process is starting, or being started
    /// again after it died), or for an autoscaled Service's first pod (<see cref="Autoscaled"/>), before the attempt
    /// counts as failed. In a cluster Knative's activator holds such a request
    /// until the Service has a ready pod; without this, an event sent while a process restarts would spend its retries in
    /// a second and be dead-lettered. Zero counts a refused connection as a failed attempt at once.
    /// </summary>
    public TimeSpan ActivatorTimeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The cores of the one machine the local cluster runs on: at most this many CPU-bound requests (to Services whose
    /// pods ask for a whole core, <see cref="ServiceManifest.HoldsACore"/>) run at once, whichever Services they go to;
    /// the rest wait in the broker for a core, first come first served. 0 is no limit. A Kubernetes node runs only the
    /// pods whose CPU requests it can meet, and a request beyond what the ready pods can take waits in Knative's
    /// activator, which buffers requests while a revision's pods have no capacity left for them (knative/docs,
    /// serving/load-balancing/target-burst-capacity.md; knative/serving docs/scaling/SYSTEM.md); without
    /// this, every stage's requests ran at once on a machine with fewer cores than they ask for, each slowed by all the
    /// others (a 10-minute 1080p video on 2 cores: five requests at once, the longest 48-50 s; held to 2, 12 s).
    /// </summary>
    public int NodeCores { get; init; }

    /// <summary>What is wrong with the settings, naming the setting; null if nothing is.</summary>
    internal string? Problem() =>
        MaxConcurrentDeliveries < 1 ? $"{SectionName}:{nameof(MaxConcurrentDeliveries)} must be at least 1, not {MaxConcurrentDeliveries}."
        : NodeCores < 0 ? $"{SectionName}:{nameof(NodeCores)} must be 0 (no limit) or more, not {NodeCores}."
        : DeliveryTimeout <= TimeSpan.Zero ? $"{SectionName}:{nameof(DeliveryTimeout)} must be positive, not {DeliveryTimeout}."
        : ActivatorTimeout < TimeSpan.Zero ? $"{SectionName}:{nameof(ActivatorTimeout)} must not be negative, not {ActivatorTimeout}."
        : Services.FirstOrDefault(s => !s.Value.IsAbsoluteUri) is { Key: { } name } ? $"{SectionName}:{nameof(Services)}:{name} must be an absolute URL."
        : Replicas.FirstOrDefault(r => r.Value.Any(uri => !uri.IsAbsoluteUri)) is { Key: { } replicated } ? $"{SectionName}:{nameof(Replicas)}:{replicated} must hold absolute URLs."
        : Replicas.Keys.FirstOrDefault(service => !Services.ContainsKey(service)) is { } lone ? $"{SectionName}:{nameof(Replicas)}:{lone} names a Service with no {nameof(Services)} address."
        : Autoscaled.FirstOrDefault(service => !Services.ContainsKey(service)) is { } unknown ? $"{SectionName}:{nameof(Autoscaled)} names {unknown}, a Service with no {nameof(Services)} address."
        : null;
}
