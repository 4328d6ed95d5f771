using GEdge.Events;
using GEdge.Events.Broker;

namespace GEdge.Cluster.Tests;

/// <summary>
/// The Knative Broker and Triggers in knative/ are what the local broker routes by, and they must say what the code
/// says (<see cref="GEdgeTriggers"/>): these tests read the files and compare, so the two cannot drift apart.
/// </summary>
public sealed class KnativeManifestTests
{
    private static readonly KnativeEventing s_eventing = KnativeEventing.Load(KnativeEventing.FindDirectory());

    [Fact]
    public void Triggers_InTheKnativeManifests_AreTheTriggersTheCodeRoutesBy()
    {
        Assert.Equal(GEdgeTriggers.All.Select(Describe), s_eventing.Triggers.Select(t => Describe(t.Trigger)));
    }

    [Fact]
    public void Triggers_SubscribeToTheDefaultBroker_AndReferenceTheirFunctionsKnativeService()
    {
        Assert.Equal("default", s_eventing.Broker.Name);
        Assert.All(s_eventing.Triggers, t => Assert.Equal("default", t.Broker));
        Assert.Equal(
            [
                new(GEdgeTriggers.GatewayEventsService, null), new("preprocess", null), new("preprocess", null), new("infer", null), new("postprocess", null),
                new("postprocess", null), new("infer", null), new("postprocess", null),
            ],
            s_eventing.Triggers.Select(t => t.Subscriber));
    }

    [Fact]
    public void Delivery_IsEachTriggersOwnSpec_AndEveryFailureGoesToTheGatewaysDeadLetterEndpoint()
    {
        var expected = new DeliveryOptions { Retry = 3, BackoffPolicy = BackoffPolicy.Exponential, BackoffDelay = TimeSpan.FromMilliseconds(200) };
        Assert.Equal(expected, s_eventing.Broker.Delivery);
        Assert.Equal(
            // The warm-ups retry once: a lost one costs only the cold start it would have hidden.
            [expected, expected, expected, expected with { Retry = 5, BackoffDelay = TimeSpan.FromSeconds(1) }, expected, expected, expected with { Retry = 1 }, expected with { Retry = 1 }],
            s_eventing.Triggers.Select(t => t.Delivery));
        // The gateway app's cluster-local events Service, never its public one.
        var deadLetterSink = new KnativeDestination(GEdgeTriggers.GatewayEventsService, new Uri("/events/dead-letter", UriKind.Relative));
        Assert.Equal(deadLetterSink, s_eventing.Broker.DeadLetterSink);
        Assert.All(s_eventing.Triggers, t => Assert.Equal(deadLetterSink, t.DeadLetterSink));
    }

    [Fact]
    public void ContainerConcurrencyAndCpu_AreEachServicesOwn_SoTheLocalBrokerHoldsBackWhatAPodOrTheNodeWouldNotTake()
    {
        Assert.Equal(
            new Dictionary<string, ServiceManifest>
            {
                // With each one's autoscaling target and max-scale, which `gedge serve --scale-to-zero` scales by.
                ["gateway"] = new(50, 0.25) { Target = 40, MaxScale = 10 },
                ["gateway-events"] = new(50, 0.1) { Target = 40, MaxScale = 5 },
                ["preprocess"] = new(2, 1) { Target = 2, MaxScale = 20 },
                ["infer"] = new(1, 2) { Target = 1, MaxScale = 4 },
                ["postprocess"] = new(2, 1) { Target = 2, MaxScale = 20 },
            },
            s_eventing.Services);
        var routes = BrokerRoute.Resolve(s_eventing, new BrokerOptions
        {
            Services = new Dictionary<string, Uri>(StringComparer.Ordinal)
            {
                ["gateway-events"] = new("http://127.0.0.1:8080/"), ["preprocess"] = new("http://127.0.0.1:8082/"),
                ["infer"] = new("http://127.0.0.1:8083/"), ["postprocess"] = new("http://127.0.0.1:8084/"),
            },
        });
        Assert.Equal([50, 2, 2, 1, 2, 2, 1, 2], routes.Select(r => r.ContainerConcurrency));
        // The stages' requests hold a core of the node (a warm-up's for the moment it takes); the gateway's events do not.
        Assert.Equal([false, true, true, true, true, true, true, true], routes.Select(r => r.HoldsACore));

        var negative = Assert.Throws<KnativeManifestException>(() => KnativeManifestReader.ReadServices(
            new StringReader("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: infer\nspec:\n  template:\n    spec:\n      containerConcurrency: -1\n"),
            "services.yaml"));
        Assert.Contains("Service 'infer' in services.yaml has spec.template.spec.containerConcurrency -1", negative.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", 0, 100.0, 0)]
    [InlineData("", 3, 3.0, 0)]
    [InlineData("autoscaling.knative.dev/target: \"1.5\"\n        autoscaling.knative.dev/max-scale: \"4\"", 3, 1.5, 4)]
    public void AutoscalingTarget_IsTheAnnotation_ElseTheContainerConcurrency_ElseKnativesDefault(string annotations, int containerConcurrency, double target, int maxScale)
    {
        var services = KnativeManifestReader.ReadServices(
            new StringReader($"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: infer\nspec:\n  template:\n    metadata:\n      annotations:\n        {(annotations.Length == 0 ? "other: x" : annotations)}\n    spec:\n      containerConcurrency: {containerConcurrency}\n"),
            "services.yaml");

        Assert.Equal((target, maxScale), (services["infer"].Target, services["infer"].MaxScale));
    }

    [Fact]
    public void AutoscalingAnnotation_ThatIsNoNumber_IsRefusedNamingTheService()
    {
        var refused = Assert.Throws<KnativeManifestException>(() => KnativeManifestReader.ReadServices(
            new StringReader("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: infer\nspec:\n  template:\n    metadata:\n      annotations:\n        autoscaling.knative.dev/max-scale: many\n"),
            "services.yaml"));

        Assert.Equal("Service 'infer' in services.yaml has autoscaling.knative.dev/max-scale 'many'; it must be a number.", refused.Message);
    }

    [Theory]
    [InlineData("2", 2.0)]
    [InlineData("0.5", 0.5)]
    [InlineData("250m", 0.25)]
    [InlineData("1500m", 1.5)]
    [InlineData(null, 0.0)]
    public void CpuRequest_ReadsCoresAndMillicores(string? cpu, double cores)
    {
        var resources = cpu is null ? string.Empty : $"          resources:\n            requests:\n              cpu: \"{cpu}\"\n              memory: 1Gi\n";
        var services = KnativeManifestReader.ReadServices(
            new StringReader($"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: infer\nspec:\n  template:\n    spec:\n      containers:\n        - image: infer\n{resources}"),
            "services.yaml");

        Assert.Equal(new ServiceManifest(0, cores), services["infer"]);
        Assert.Equal(cores >= 1, services["infer"].HoldsACore);
    }

    [Theory]
    [InlineData("two")]
    [InlineData("2Gi")]
    [InlineData("-1")]
    public void CpuRequest_ThatIsNoCpuQuantity_IsRefusedNamingTheService(string cpu)
    {
        var refused = Assert.Throws<KnativeManifestException>(() => KnativeManifestReader.ReadServices(
            new StringReader($"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: infer\nspec:\n  template:\n    spec:\n      containers:\n        - resources:\n            requests:\n              cpu: \"{cpu}\"\n"),
            "services.yaml"));

        Assert.Equal($"Service 'infer' in services.yaml requests cpu '{cpu}'; a CPU quantity is a number of cores (\"2\", \"0.5\") or of millicores (\"250m\").", refused.Message);
    }

    [Fact]
    public void Destination_ResolvesAgainstItsServicesAddress()
    {
        var services = new Dictionary<string, Uri> { [GEdgeTriggers.GatewayEventsService] = new("http://127.0.0.1:8080/") };

        Assert.Equal(new Uri("http://127.0.0.1:8080/events/dead-letter"), s_eventing.Broker.DeadLetterSink!.Resolve(services));
        var missing = Assert.Throws<KnativeManifestException>(() => s_eventing.Triggers[1].Subscriber.Resolve(services));
        Assert.Equal("The Knative Service 'preprocess' has no address: set Broker:Services:preprocess to its URL.", missing.Message);
    }

    [Fact]
    public void Trigger_WithoutItsOwnDelivery_TakesTheBrokers()
    {
        var triggers = KnativeManifestReader.ReadTriggers(new StringReader(Trigger(delivery: "")), s_eventing.Broker, "test.yaml");

        Assert.Equal(s_eventing.Broker.Delivery, triggers.Single().Delivery);
        Assert.Equal(s_eventing.Broker.DeadLetterSink, triggers.Single().DeadLetterSink);
    }

    public static TheoryData<string, string> Refusals => new()
    {
        { Trigger(delivery: "  delivery:\n    retry: 2\n    backoffPolicy: random\n"), "Trigger 'gedge-test' in test.yaml spec.delivery.backoffPolicy must be 'exponential' or 'linear', not 'random'." },
        { Trigger(delivery: "  delivery:\n    retry: 2\n    backoffDelay: 200ms\n"), "Trigger 'gedge-test' in test.yaml spec.delivery.backoffDelay '200ms' is not an ISO 8601 duration such as PT0.2S." },
        { Trigger(delivery: "  delivery:\n    retry: -1\n"), "Trigger 'gedge-test' in test.yaml spec.delivery.retry must not be negative, not -1." },
        { Trigger(subscriberKind: "Deployment"), "Trigger 'gedge-test' in test.yaml spec.subscriber.ref must name a Knative Service (apiVersion serving.knative.dev/v1, kind Service, a name), not serving.knative.dev/v1 Deployment 'preprocess'." },
        { Trigger(broker: "other"), "Trigger 'gedge-test' in test.yaml subscribes to the Broker 'other'; the Broker is 'default'." },
        { Trigger(delivery: "  filters:\n  - exact:\n      type: dev.gedge.video.uploaded\n"), "Trigger 'gedge-test' in test.yaml uses spec.filters, which the local broker does not evaluate; use spec.filter.attributes." },
        { Trigger(apiVersion: "eventing.knative.dev/v1beta1"), "Trigger 'gedge-test' in test.yaml has apiVersion 'eventing.knative.dev/v1beta1'; Brokers and Triggers are eventing.knative.dev/v1." },
        { Trigger() + "---\n" + Trigger(), "test.yaml declares the Trigger 'gedge-test' 2 times." },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Reader_RefusesWhatTheLocalBrokerCannotHonour_NamingTheResourceAndField(string yaml, string message)
    {
        var refused = Assert.Throws<KnativeManifestException>(() => KnativeManifestReader.ReadTriggers(new StringReader(yaml), s_eventing.Broker, "test.yaml"));

        Assert.Equal(message, refused.Message);
    }

    private static string Describe(EventTrigger trigger) =>
        $"{trigger.Name} -> {trigger.Subscriber} when {string.Join(", ", trigger.Filter.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}"))}";

    private static string Trigger(string apiVersion = "eventing.knative.dev/v1", string broker = "default", string subscriberKind = "Service", string delivery = "") => $"""
        apiVersion: {apiVersion}
        kind: Trigger
        metadata:
          name: gedge-test
        spec:
          broker: {broker}
          filter:
            attributes:
              type: dev.gedge.job.status.changed
              jobstatus: Enqueue
          subscriber:
            ref:
              apiVersion: serving.knative.dev/v1
              kind: {subscriberKind}
              name: preprocess

        """ + delivery;
}
