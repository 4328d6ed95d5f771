using System.Globalization;
using System.Xml;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace GEdge.Events.Broker;

/// <summary>
/// A Knative Destination (<c>spec.subscriber</c>, <c>deadLetterSink</c>): a Knative Service by name, with a URI that is
/// relative to the Service's address, or an absolute URI on its own.
/// </summary>
public sealed record KnativeDestination(string? ServiceName, Uri? Uri)
{
    /// <summary>The URL this destination names, given the address of every Knative Service by name.</summary>
    public Uri Resolve(IReadOnlyDictionary<string, Uri> serviceAddresses)
    {
        ArgumentNullException.ThrowIfNull(serviceAddresses);
        if (ServiceName is null)
        {
            return Uri ?? throw new InvalidOperationException("A destination needs a Service reference or an absolute URI.");
        }

        if (!serviceAddresses.TryGetValue(ServiceName, out var address))
        {
            throw new KnativeManifestException(
                $"The Knative Service '{ServiceName}' has no address: set {BrokerOptions.SectionName}:{nameof(BrokerOptions.Services)}:{ServiceName} to its URL.");
        }

        return Uri is null ? address : new Uri(address, Uri);
    }
}

/// <summary>A Knative Trigger as the local broker routes by it: the filter, the subscriber and how to deliver to it.</summary>
/// <param name="Trigger">The name, the subscriber's Service name and the attribute filter, as <see cref="GEdgeTriggers"/> declares them.</param>
/// <param name="Broker">The Broker the Trigger subscribes to (<c>spec.broker</c>).</param>
/// <param name="Subscriber">Where matching events go (<c>spec.subscriber</c>).</param>
/// <param name="Delivery">Retries and backoff: the Trigger's <c>spec.delivery</c>, or the Broker's when it has none.</param>
/// <param name="DeadLetterSink">Where events go that could not be delivered: the Trigger's, else the Broker's; null drops them.</param>
public sealed record TriggerManifest(
    EventTrigger Trigger,
    string Broker,
    KnativeDestination Subscriber,
    DeliveryOptions Delivery,
    KnativeDestination? DeadLetterSink);

/// <summary>What the local broker honours of a Knative Service: how a pod of it takes requests, and what it asks of a node.</summary>
/// <param name="ContainerConcurrency">
/// Its <c>spec.template.spec.containerConcurrency</c>: the requests one pod takes at once; 0 (or none set) is no limit.
/// </param>
/// <param name="CpuRequest">Its container's <c>resources.requests.cpu</c>, in cores; 0 when it sets none.</param>
public sealed record ServiceManifest(int ContainerConcurrency, double CpuRequest)
{
    /// <summary>
    /// Whether its requests are CPU-bound work that holds a core of the node while it runs: its pods ask for at least one
    /// whole core. The stages (preprocess, infer, postprocess) do; the gateway's Services ask for a fraction of one and
    /// mostly wait on I/O.
    /// </summary>
    public bool HoldsACore => CpuRequest >= 1;

    /// <summary>
    /// The requests in flight per pod its autoscaler aims at (<c>autoscaling.knative.dev/target</c>); without it, its
    /// <see cref="ContainerConcurrency"/>, else Knative's default of 100 (config-autoscaler's container-concurrency-target-default).
    /// </summary>
    public double Target { get; init; } = KnativeDefaultTarget;

    /// <summary>The most pods it scales to (<c>autoscaling.knative.dev/max-scale</c>); 0 is no limit, Knative's default.</summary>
    public int MaxScale { get; init; }

    /// <summary>Knative's default concurrency target per pod.</summary>
    public const double KnativeDefaultTarget = 100;
}

/// <summary>A Knative Broker: its name and the delivery defaults its Triggers inherit.</summary>
public sealed record BrokerManifest(string Name, DeliveryOptions Delivery, KnativeDestination? DeadLetterSink);

/// <summary>A Broker and its Triggers, read from <c>knative/broker.yaml</c> and <c>knative/triggers.yaml</c>.</summary>
/// <param name="Broker">The Broker.</param>
/// <param name="Triggers">Its Triggers.</param>
/// <param name="Services">Each Knative Service of <c>knative/services.yaml</c>, by name: what the local broker honours of it.</param>
public sealed record KnativeEventing(BrokerManifest Broker, IReadOnlyList<TriggerManifest> Triggers, IReadOnlyDictionary<string, ServiceManifest>? Services = null)
{
    /// <summary>The file that holds the Knative Services.</summary>
    public const string ServicesFile = "services.yaml";

    /// <summary>The file that holds the Broker.</summary>
    public const string BrokerFile = "broker.yaml";

    /// <summary>The file that holds the Triggers.</summary>
    public const string TriggersFile = "triggers.yaml";

    /// <summary>Reads the Broker and Triggers in <paramref name="directory"/>; throws <see cref="KnativeManifestException"/> saying what is wrong.</summary>
    public static KnativeEventing Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var brokerPath = Path.Combine(directory, BrokerFile);
        var triggersPath = Path.Combine(directory, TriggersFile);
        using var brokerYaml = OpenManifest(brokerPath);
        using var triggersYaml = OpenManifest(triggersPath);
        var broker = KnativeManifestReader.ReadBroker(brokerYaml, brokerPath);
        var servicesPath = Path.Combine(directory, ServicesFile);
        using var servicesYaml = OpenManifest(servicesPath);
        return new KnativeEventing(
            broker,
            KnativeManifestReader.ReadTriggers(triggersYaml, broker, triggersPath),
            KnativeManifestReader.ReadServices(servicesYaml, servicesPath));
    }

    /// <summary>
    /// The <c>knative/</c> folder: the copy next to the binary, else the repository's, looked for above the current
    /// directory.
    /// </summary>
    public static string FindDirectory()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                var candidate = Path.Combine(directory.FullName, "knative");
                if (File.Exists(Path.Combine(candidate, TriggersFile)))
                {
                    return candidate;
                }
            }
        }

        throw new KnativeManifestException(
            $"No knative/{TriggersFile} was found next to {AppContext.BaseDirectory} or above {Environment.CurrentDirectory}: " +
            $"set {BrokerOptions.SectionName}:{nameof(BrokerOptions.ManifestsDirectory)}.");
    }

    private static StreamReader OpenManifest(string path) =>
        File.Exists(path) ? new StreamReader(path) : throw new KnativeManifestException($"The manifest {path} does not exist.");
}

/// <summary>A Knative manifest that the local broker cannot use as it stands; the message names the file, the resource and the field.</summary>
public sealed class KnativeManifestException(string message) : Exception(message);

/// <summary>
/// Reads Knative Broker and Trigger manifests (YAML, several documents per file) into the local broker's model. It
/// reads what the local broker acts on and refuses what it cannot honour, rather than route differently from Knative:
/// a filter other than <c>spec.filter.attributes</c>, a subscriber that is not a Knative Service, an unknown backoff.
/// </summary>
public static class KnativeManifestReader
{
    /// <summary>The API group and version of Brokers and Triggers.</summary>
    public const string EventingApiVersion = "eventing.knative.dev/v1";

    /// <summary>The API group and version of Knative Services.</summary>
    public const string ServingApiVersion = "serving.knative.dev/v1";

    private static readonly IDeserializer s_yaml = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .WithDuplicateKeyChecking()
        // Labels, annotations and status are Kubernetes' business; the fields the broker acts on are modelled.
        .IgnoreUnmatchedProperties()
        .Build();

    /// <summary>Reads the single Broker in <paramref name="yaml"/>; <paramref name="source"/> names it in errors.</summary>
    public static BrokerManifest ReadBroker(TextReader yaml, string source)
    {
        var brokers = ReadResources(yaml, source).Where(r => r.Kind == "Broker").ToList();
        if (brokers.Count != 1)
        {
            throw new KnativeManifestException($"{source} must hold exactly one Broker; it holds {brokers.Count}.");
        }

        var broker = brokers[0];
        var name = Where(source, broker);
        var delivery = broker.Spec?.Delivery;
        return new BrokerManifest(
            broker.Metadata!.Name!,
            delivery is null ? new DeliveryOptions() : ToDeliveryOptions(delivery, $"{name} spec.delivery"),
            ToDestination(delivery?.DeadLetterSink, $"{name} spec.delivery.deadLetterSink"));
    }

    /// <summary>
    /// Reads each Knative Service in <paramref name="yaml"/>, by name: its <c>spec.template.spec.containerConcurrency</c>
    /// (0 when it sets none), its first container's <c>resources.requests.cpu</c> (0 when it sets none) and its revision
    /// template's autoscaling target and max-scale.
    /// </summary>
    public static IReadOnlyDictionary<string, ServiceManifest> ReadServices(TextReader yaml, string source)
    {
        var services = new Dictionary<string, ServiceManifest>(StringComparer.Ordinal);
        foreach (var service in ReadResources(yaml, source, ServingApiVersion).Where(r => r.Kind == "Service"))
        {
            var spec = service.Spec?.Template?.Spec;
            var limit = spec?.ContainerConcurrency ?? 0;
            if (limit < 0)
            {
                throw new KnativeManifestException($"{Where(source, service)} has spec.template.spec.containerConcurrency {limit}; it must be 0 (no limit) or more.");
            }

            var cpu = spec?.Containers?.FirstOrDefault()?.Resources?.Requests?.GetValueOrDefault("cpu");
            var cores = cpu is null ? 0 : CpuCores(cpu) ?? throw new KnativeManifestException(
                $"{Where(source, service)} requests cpu '{cpu}'; a CPU quantity is a number of cores (\"2\", \"0.5\") or of millicores (\"250m\").");
            var annotations = service.Spec?.Template?.Metadata?.Annotations ?? [];
            services[service.Metadata!.Name!] = new ServiceManifest(limit, cores)
            {
                Target = Annotation(annotations, "autoscaling.knative.dev/target", source, service) is { } target && target > 0 ? target
                    : limit > 0 ? limit : ServiceManifest.KnativeDefaultTarget,
                MaxScale = (int)(Annotation(annotations, "autoscaling.knative.dev/max-scale", source, service) ?? 0),
            };
        }

        return services;
    }

    // A numeric autoscaling annotation of a revision template, null when it is not set.
    private static double? Annotation(Dictionary<string, string> annotations, string name, string source, KnativeResource service) =>
        !annotations.TryGetValue(name, out var text) ? null
        : double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) ? value
        : throw new KnativeManifestException($"{Where(source, service)} has {name} '{text}'; it must be a number.");

    // A Kubernetes CPU quantity in the two forms CPU is written in: cores ("2", "0.5") or millicores ("250m"). Written by
    // hand: the quantity parser lives in the Kubernetes client, which nothing else here needs.
    private static double? CpuCores(string quantity)
    {
        var millis = quantity.EndsWith('m');
        return double.TryParse(millis ? quantity[..^1] : quantity, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            ? (millis ? value / 1000 : value)
            : null;
    }

    /// <summary>
    /// Reads every Trigger in <paramref name="yaml"/>, each subscribed to <paramref name="broker"/>, whose delivery
    /// defaults apply to a Trigger without <c>spec.delivery</c> (Knative's rule: the Trigger's spec replaces the
    /// Broker's as a whole; the dead-letter sink falls back on its own).
    /// </summary>
    public static IReadOnlyList<TriggerManifest> ReadTriggers(TextReader yaml, BrokerManifest broker, string source)
    {
        ArgumentNullException.ThrowIfNull(broker);
        var triggers = new List<TriggerManifest>();
        foreach (var resource in ReadResources(yaml, source))
        {
            if (resource.Kind != "Trigger")
            {
                throw new KnativeManifestException($"{Where(source, resource)} is a {resource.Kind}; {source} holds Triggers only.");
            }

            triggers.Add(ToTrigger(resource, broker, Where(source, resource)));
        }

        var duplicate = triggers.GroupBy(t => t.Trigger.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        return duplicate is null
            ? triggers
            : throw new KnativeManifestException($"{source} declares the Trigger '{duplicate.Key}' {duplicate.Count()} times.");
    }

    private static TriggerManifest ToTrigger(KnativeResource resource, BrokerManifest broker, string where)
    {
        var spec = resource.Spec ?? throw new KnativeManifestException($"{where} has no spec.");
        if (spec.Broker != broker.Name)
        {
            throw new KnativeManifestException($"{where} subscribes to the Broker '{spec.Broker}'; the Broker is '{broker.Name}'.");
        }

        if (spec.Filters is not null)
        {
            throw new KnativeManifestException($"{where} uses spec.filters, which the local broker does not evaluate; use spec.filter.attributes.");
        }

        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in spec.Filter?.Attributes ?? [])
        {
            attributes[name] = !string.IsNullOrEmpty(name) && !string.IsNullOrEmpty(value)
                ? value
                : throw new KnativeManifestException($"{where} spec.filter.attributes has an empty name or value ('{name}': '{value}').");
        }

        var subscriber = ToDestination(spec.Subscriber, $"{where} spec.subscriber")
            ?? throw new KnativeManifestException($"{where} has no spec.subscriber.");
        if (subscriber.ServiceName is null)
        {
            throw new KnativeManifestException($"{where} spec.subscriber must reference a Knative Service (ref), which the local cluster runs.");
        }

        var delivery = spec.Delivery is null ? broker.Delivery : ToDeliveryOptions(spec.Delivery, $"{where} spec.delivery");
        var deadLetterSink = ToDestination(spec.Delivery?.DeadLetterSink, $"{where} spec.delivery.deadLetterSink") ?? broker.DeadLetterSink;
        return new TriggerManifest(
            new EventTrigger(resource.Metadata!.Name!, subscriber.ServiceName, new TriggerFilter(attributes)),
            broker.Name,
            subscriber,
            delivery,
            deadLetterSink);
    }

    private static DeliveryOptions ToDeliveryOptions(DeliverySpec spec, string where)
    {
        var defaults = new DeliveryOptions();
        if (spec.Retry is < 0)
        {
            throw new KnativeManifestException($"{where}.retry must not be negative, not {spec.Retry}.");
        }

        var policy = spec.BackoffPolicy switch
        {
            null or "exponential" => BackoffPolicy.Exponential,
            "linear" => BackoffPolicy.Linear,
            var other => throw new KnativeManifestException($"{where}.backoffPolicy must be 'exponential' or 'linear', not '{other}'."),
        };
        return new DeliveryOptions
        {
            // As in Knative, a delivery spec without 'retry' does not retry.
            Retry = spec.Retry ?? 0,
            BackoffPolicy = policy,
            BackoffDelay = spec.BackoffDelay is null ? defaults.BackoffDelay : ParseDuration(spec.BackoffDelay, $"{where}.backoffDelay"),
        };
    }

    private static TimeSpan ParseDuration(string text, string where)
    {
        TimeSpan duration;
        try
        {
            // ISO 8601 durations (PT0.2S, PT1M) are what xs:duration is; XmlConvert reads exactly that syntax.
            duration = XmlConvert.ToTimeSpan(text);
        }
        catch (FormatException)
        {
            throw new KnativeManifestException($"{where} '{text}' is not an ISO 8601 duration such as PT0.2S.");
        }

        return duration > TimeSpan.Zero && duration <= TimeSpan.FromDays(1)
            ? duration
            : throw new KnativeManifestException($"{where} '{text}' must be positive and at most a day.");
    }

    private static KnativeDestination? ToDestination(DestinationSpec? spec, string where)
    {
        if (spec is null)
        {
            return null;
        }

        Uri? uri = null;
        if (spec.Uri is { } text && !Uri.TryCreate(text, UriKind.RelativeOrAbsolute, out uri))
        {
            throw new KnativeManifestException($"{where}.uri '{text}' is not a URI.");
        }

        if (spec.Ref is not { } reference)
        {
            return uri is { IsAbsoluteUri: true }
                ? new KnativeDestination(null, uri)
                : throw new KnativeManifestException($"{where} needs a ref to a Knative Service or an absolute uri.");
        }

        if (reference.ApiVersion != ServingApiVersion || reference.Kind != "Service" || string.IsNullOrEmpty(reference.Name))
        {
            throw new KnativeManifestException(
                $"{where}.ref must name a Knative Service (apiVersion {ServingApiVersion}, kind Service, a name), not " +
                $"{reference.ApiVersion} {reference.Kind} '{reference.Name}'.");
        }

        return new KnativeDestination(reference.Name, uri);
    }

    private static List<KnativeResource> ReadResources(TextReader yaml, string source, string apiVersion = EventingApiVersion)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentException.ThrowIfNullOrEmpty(source);
        var resources = new List<KnativeResource>();
        try
        {
            var parser = new Parser(yaml);
            parser.Consume<StreamStart>();
            while (parser.Accept<DocumentStart>(out _))
            {
                // A document with only comments (a leading '---') deserializes to null: nothing to read there.
                if (s_yaml.Deserialize<KnativeResource?>(parser) is { } resource)
                {
                    resources.Add(resource);
                }
            }
        }
        catch (YamlException e)
        {
            throw new KnativeManifestException($"{source} is not valid YAML for a Knative resource at line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}");
        }

        foreach (var resource in resources)
        {
            if (resource.ApiVersion != apiVersion)
            {
                throw new KnativeManifestException(apiVersion == EventingApiVersion
                    ? $"{Where(source, resource)} has apiVersion '{resource.ApiVersion}'; Brokers and Triggers are {EventingApiVersion}."
                    : $"{Where(source, resource)} has apiVersion '{resource.ApiVersion}'; Knative Services are {ServingApiVersion}.");
            }

            if (string.IsNullOrEmpty(resource.Metadata?.Name))
            {
                throw new KnativeManifestException($"A {resource.Kind} in {source} has no metadata.name.");
            }
        }

        return resources;
    }

    private static string Where(string source, KnativeResource resource) => $"{resource.Kind} '{resource.Metadata?.Name}' in {source}";
}

// The YAML shapes, as Kubernetes spells them; filled by YamlDotNet, so settable.
internal sealed class KnativeResource
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public ResourceMetadata? Metadata { get; set; }

    public ResourceSpec? Spec { get; set; }
}

internal sealed class ResourceMetadata
{
    public string? Name { get; set; }

    public Dictionary<string, string>? Annotations { get; set; }
}

// The union of the Broker's, the Trigger's and the Service's spec fields the broker reads.
internal sealed class ResourceSpec
{
    public string? Broker { get; set; }

    public FilterSpec? Filter { get; set; }

    public object? Filters { get; set; }

    public DestinationSpec? Subscriber { get; set; }

    public DeliverySpec? Delivery { get; set; }

    // A Knative Service's revision template.
    public RevisionTemplateSpec? Template { get; set; }
}

internal sealed class RevisionTemplateSpec
{
    public ResourceMetadata? Metadata { get; set; }

    public RevisionSpec? Spec { get; set; }
}

internal sealed class RevisionSpec
{
    public int? ContainerConcurrency { get; set; }

    public List<ContainerSpec>? Containers { get; set; }
}

internal sealed class ContainerSpec
{
    public ResourceRequirements? Resources { get; set; }
}

internal sealed class ResourceRequirements
{
    public Dictionary<string, string>? Requests { get; set; }
}

internal sealed class FilterSpec
{
    public Dictionary<string, string>? Attributes { get; set; }
}

internal sealed class DestinationSpec
{
    public ReferenceSpec? Ref { get; set; }

    public string? Uri { get; set; }
}

internal sealed class ReferenceSpec
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public string? Name { get; set; }
}

internal sealed class DeliverySpec
{
    public int? Retry { get; set; }

    public string? BackoffPolicy { get; set; }

    public string? BackoffDelay { get; set; }

    public DestinationSpec? DeadLetterSink { get; set; }
}
