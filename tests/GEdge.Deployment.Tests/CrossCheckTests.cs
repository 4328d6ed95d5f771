using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GEdge.Contracts;
using GEdge.Events;

namespace GEdge.Deployment.Tests;

/// <summary>The manifests against the code: the events and statuses, the stages, the configuration keys, the GPU.</summary>
public sealed partial class CrossCheckTests
{
    [GeneratedRegex(@"^  - (?<file>[\w.-]+\.yaml)\s*$", RegexOptions.Multiline)]
    private static partial Regex KustomizationResource();

    /// <summary>
    /// Variables read by the Azure Functions host (not by G-Edge's code): the worker runtime, no default home page on
    /// <c>/</c> (where CloudEvents arrive), and the host's request-body limit, which the gateway's uploads need raised.
    /// </summary>
    private static readonly string[] s_hostVariables = ["FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsDisableHomepage", "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"];

    [Fact]
    public void EveryTrigger_FiltersOnAnEventTypeAndStatusTheCodeDefines()
    {
        Assert.NotEmpty(Manifests.Triggers);
        foreach (var trigger in Manifests.Triggers)
        {
            var attributes = trigger.Json["spec"]!["filter"]!["attributes"]!.AsObject();
            Assert.Contains((string)attributes["type"]!, GEdgeEvents.Types);
            if (attributes[GEdgeEvents.JobStatusAttribute.Name] is { } status)
            {
                Assert.True(Enum.TryParse<JobStatus>((string)status!, out _), $"{trigger}: '{status}' is not a JobStatus.");
            }

            Assert.All(attributes, a => Assert.True(
                a.Key is "type" || GEdgeEvents.ExtensionAttributes.Any(e => e.Name == a.Key), $"{trigger} filters on '{a.Key}', which no G-Edge event carries."));
        }
    }

    [Fact]
    public void EverySubscriber_HasExactlyOneKnativeService_AndATriggerForEachOfItsFilters()
    {
        var subscribers = GEdgeTriggers.All.Select(t => t.Subscriber).Distinct().ToList();
        // Every subscriber's Service, and the gateway's public one, which takes no events.
        Assert.Equal([.. subscribers.Append(PublicGateway).Order(StringComparer.Ordinal)], Manifests.KnativeServices.Select(s => s.Name!).Order(StringComparer.Ordinal));
        foreach (var subscriber in subscribers)
        {
            Assert.Single(Manifests.KnativeServices, s => s.Name == subscriber);
            Assert.Equal(
                GEdgeTriggers.All.Count(t => t.Subscriber == subscriber),
                Manifests.Triggers.Count(t => (string?)t.Json["spec"]!["subscriber"]!["ref"]!["name"] == subscriber));
        }
    }

    [Fact]
    public void NoEventEndpoint_IsReachableFromOutsideTheCluster()
    {
        const string Visibility = "networking.knative.dev/visibility";
        var clusterLocal = Manifests.KnativeServices
            .Where(s => (string?)s.Json["metadata"]!["labels"]?[Visibility] == "cluster-local")
            .Select(s => s.Name!)
            .ToHashSet(StringComparer.Ordinal);

        // Only the gateway is public, and its app takes no events there.
        Assert.Equal([PublicGateway], Manifests.KnativeServices.Select(s => s.Name!).Except(clusterLocal));
        var gateway = Manifests.KnativeServices.Single(s => s.Name == PublicGateway).Json["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal("false", (string?)gateway["env"]!.AsArray().Single(e => (string?)e!["name"] == "Gateway__EventEndpoints")!["value"]);

        // Everything that sends events sends them to a cluster-local Service: each Trigger's subscriber and dead-letter sink,
        // and each source's sink that is a Knative Service.
        var destinations = Manifests.Triggers.SelectMany(t => new[] { t.Json["spec"]!["subscriber"], t.Json["spec"]!["delivery"]?["deadLetterSink"] })
            .Concat(Manifests.All.Where(r => (string?)r.Json["kind"] == "PingSource").Select(r => r.Json["spec"]!["sink"]))
            .Where(d => d is not null && (string?)d["ref"]?["kind"] == "Service")
            .Select(d => (string)d!["ref"]!["name"]!)
            .ToList();
        Assert.NotEmpty(destinations);
        Assert.All(destinations, name => Assert.Contains(name, clusterLocal));
        Assert.Contains(GEdgeTriggers.GatewayEventsService, destinations);
    }

    private const string PublicGateway = "gateway";

    [Fact]
    public void EveryService_ScalesToZero_WithAConcurrencyTarget_Timeout_ProbesAndResources()
    {
        foreach (var service in Manifests.KnativeServices)
        {
            var template = service.Json["spec"]!["template"]!;
            var annotations = template["metadata"]!["annotations"]!;
            Assert.Equal("0", (string?)annotations["autoscaling.knative.dev/min-scale"]);
            Assert.NotNull(annotations["autoscaling.knative.dev/target"]);
            Assert.True((long?)template["spec"]!["containerConcurrency"] > 0, $"{service}: no containerConcurrency");
            Assert.InRange((long?)template["spec"]!["timeoutSeconds"] ?? 0, 1, 600);
            if (GEdge.Contracts.PipelineTopology.Stages.Any(stage => stage.Name == service.Name))
            {
                // A stage answers only when done: the Functions host's proxy gives up after 240 s without activity.
                Assert.InRange((long?)template["spec"]!["timeoutSeconds"] ?? 0, 1, 240);
            }
            var container = template["spec"]!["containers"]!.AsArray().Single()!;
            Assert.Equal("/readyz", (string?)container["readinessProbe"]?["httpGet"]?["path"]);
            Assert.Equal("/healthz", (string?)container["livenessProbe"]?["httpGet"]?["path"]);
            // No period on readiness keeps Knative's 50 ms probing at a cold start; liveness allows a busy worker 5 s.
            Assert.True(container["readinessProbe"]!["periodSeconds"] is null && container["readinessProbe"]!["initialDelaySeconds"] is null,
                $"{service}: a readiness period or delay turns off Knative's aggressive probing and slows every cold start");
            Assert.True((long?)container["livenessProbe"]!["timeoutSeconds"] >= 5, $"{service}: a liveness timeout under 5 s can kill a pod busy with a segment");
            Assert.NotNull(container["resources"]?["requests"]?["memory"]);
            Assert.NotNull(container["resources"]?["limits"]?["memory"]);
        }
    }

    [Fact]
    public void OnlyInfer_AsksForAGpu_AndItIsScheduledOnAndKeptOnAGpuNode()
    {
        foreach (var service in Manifests.All)
        {
            var asksForGpu = service.Json.ToJsonString().Contains("nvidia.com/gpu", StringComparison.Ordinal);
            var isInfer = service.Name is "infer" && service.ApiVersion is "serving.knative.dev/v1";
            Assert.True(asksForGpu == isInfer, $"{service} {(asksForGpu ? "asks" : "does not ask")} for a GPU.");
        }

        var infer = Manifests.KnativeServices.Single(s => s.Name == "infer").Json["spec"]!["template"]!;
        Assert.Equal("1", (string?)infer["spec"]!["containers"]![0]!["resources"]!["limits"]!["nvidia.com/gpu"]);
        Assert.Contains(infer["spec"]!["tolerations"]!.AsArray(), t => (string?)t!["key"] == "nvidia.com/gpu");
        Assert.NotNull(infer["metadata"]!["annotations"]!["autoscaling.knative.dev/scale-down-delay"]);
        Assert.Contains(
            infer["spec"]!["containers"]![0]!["env"]!.AsArray(),
            e => (string?)e!["name"] == "Detector__ExecutionProvider" && (string?)e["value"] == "Cuda");
    }

    [Fact]
    public void Infer_IsScheduledByItsPoolsTemplateLabel_AndWaitsForANodeFromAPoolAtZero()
    {
        var infer = Manifests.KnativeServices.Single(s => s.Name == "infer").Json["spec"]!["template"]!;
        // One selector, on the label the pool's node template carries (a cluster autoscaler matches pending pods against
        // templates); not a label discovery puts on a node after it boots, which no node the autoscaler could add has.
        var selector = Assert.Single(infer["spec"]!["nodeSelector"]!.AsObject());
        Assert.Equal((GpuPoolLabel, "true"), (selector.Key, (string?)selector.Value));
        Assert.DoesNotContain(Manifests.All, document => document.Json.ToJsonString().Contains("nvidia.com/gpu.present", StringComparison.Ordinal)
            || document.Json.ToJsonString().Contains("feature.node.kubernetes.io", StringComparison.Ordinal));

        // No pod at the first apply, and long enough for a node to come before the revision is failed.
        var annotations = infer["metadata"]!["annotations"]!;
        Assert.Equal("0", (string?)annotations["autoscaling.knative.dev/initial-scale"]);
        var deadline = (string?)annotations["serving.knative.dev/progress-deadline"] ?? "";
        Assert.True(
            deadline.EndsWith('m') && int.TryParse(deadline[..^1], System.Globalization.CultureInfo.InvariantCulture, out var minutes) && minutes >= 15,
            $"progress-deadline is '{deadline}': in minutes (a Go duration such as 20m), at least 15, since a GPU node from an empty pool can take longer than Knative's 10-minute default");

        // The cluster settings these need, and the one place to change the label, are where an operator reads.
        var readme = File.ReadAllText(Path.Combine(Repository.Knative, "..", "README.md"));
        Assert.Contains($"{GpuPoolLabel}=true", readme, StringComparison.Ordinal);
        Assert.Contains("allow-zero-initial-scale", readme, StringComparison.Ordinal);
        Assert.Contains("pod-is-always-schedulable", readme, StringComparison.Ordinal);
    }

    // The GPU node pool's label, which its node template sets (README: "A GPU node pool that starts at zero").
    private const string GpuPoolLabel = "gedge.dev/gpu-pool";

    [Fact]
    public void TheAppsKustomization_HoldsOnlyTheAppsOwnObjects_InTheNamespaceItIsAppliedTo()
    {
        // Knative's own objects (config-features in knative-serving) are the cluster's prerequisites, in the README: an
        // app that applied them raced Knative's install, lost them on an upgrade, and deleted them with `kubectl delete -k`.
        var kustomization = File.ReadAllText(Path.Combine(Repository.Knative, "kustomization.yaml"));
        var listed = KustomizationResource().Matches(kustomization).Select(m => m.Groups["file"].Value).ToList();
        Assert.Equal(
            Directory.GetFiles(Repository.Knative, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order(StringComparer.Ordinal),
            listed.Order(StringComparer.Ordinal));
        Assert.All(Manifests.All, document => Assert.True(
            document.Json["metadata"]?["namespace"] is null, $"{document} names a namespace: the app goes where it is applied."));
        Assert.DoesNotContain(Manifests.All, document => document.Name is "config-features" or "config-defaults" or "config-autoscaler");
        Assert.Contains("kubernetes.podspec-nodeselector", File.ReadAllText(Path.Combine(Repository.Knative, "..", "README.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryVariableTheFunctionsAreGiven_IsOneTheCodeReads()
    {
        var keys = ConfigurationKeysInCode();
        Assert.Contains("JobTable:ConnectionString", keys);
        var configMaps = Manifests.OfKind("v1", "ConfigMap").ToDictionary(c => c.Name!, c => c.Json["data"]!.AsObject());
        var secrets = Manifests.OfKind("v1", "Secret").ToDictionary(c => c.Name!, c => c.Json["stringData"]!.AsObject());
        foreach (var service in Manifests.KnativeServices)
        {
            var container = service.Json["spec"]!["template"]!["spec"]!["containers"]![0]!;
            var names = (container["env"]?.AsArray() ?? []).Select(e => (string)e!["name"]!).ToList();
            foreach (var source in container["envFrom"]?.AsArray() ?? [])
            {
                var (kind, sources) = source!["configMapRef"] is not null ? ("ConfigMap", configMaps) : ("Secret", secrets);
                var name = (string)(source["configMapRef"] ?? source["secretRef"])!["name"]!;
                Assert.True(sources.TryGetValue(name, out var data), $"{service} reads the {kind} {name}, which knative/ does not define.");
                names.AddRange(data!.Select(d => d.Key));
            }

            Assert.All(names, name => Assert.True(
                s_hostVariables.Contains(name) || keys.Contains(ListEntriesAsOne(name.Replace("__", ":", StringComparison.Ordinal))),
                $"{service} sets {name}, which no options class reads (section:property from the C# sources)."));
        }
    }

    [Fact]
    public void EveryService_IsScrapedByPrometheus_AtTheMetricsRouteOnItsContainersPort()
    {
        foreach (var service in Manifests.KnativeServices)
        {
            var template = service.Json["spec"]!["template"]!;
            var annotations = template["metadata"]!["annotations"]!;
            var port = (long?)template["spec"]!["containers"]!.AsArray().Single()!["ports"]![0]!["containerPort"];
            Assert.Equal("true", (string?)annotations["prometheus.io/scrape"]);
            Assert.Equal(port?.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)annotations["prometheus.io/port"]);
            Assert.Equal("/" + GEdge.Hosting.FunctionRoutes.Metrics, (string?)annotations["prometheus.io/path"]);
        }
    }

    [Fact]
    public void EveryFunction_IsServedOn8080_AsNonRoot_AndFuncYamlNamesTheGatewayService()
    {
        foreach (var service in Manifests.KnativeServices)
        {
            var container = service.Json["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Single()!;
            Assert.Equal(8080, (long?)container["ports"]![0]!["containerPort"]);
            Assert.True((bool?)container["securityContext"]?["runAsNonRoot"] == true, $"{service}: not runAsNonRoot");
            Assert.Contains("ALL", container["securityContext"]!["capabilities"]!["drop"]!.AsArray().Select(c => (string?)c));
        }

        // func.yaml deploys the gateway under the same name the manifests give it: one Service, whichever tool applies it.
        var func = Yaml.ReadFile(Path.Combine(Repository.Root, "func.yaml")).Single().Json;
        Assert.Equal("gateway", (string?)func["name"]);
        Assert.Contains(Manifests.KnativeServices, s => s.Name == (string?)func["name"]);
    }

    [Fact]
    public void TheGateway_WaitsAsLongForAnUploadsAnswerToStart_AsItLetsTheUploadRun()
    {
        // The answer to an upload starts once the whole video is stored: a response-start limit shorter than the
        // request's own (Knative's default 300 s) would cut every long upload off there.
        var spec = Manifests.KnativeServices.Single(s => s.Name == "gateway").Json["spec"]!["template"]!["spec"]!;
        Assert.Equal(600, (long?)spec["timeoutSeconds"]);
        Assert.Equal((long?)spec["timeoutSeconds"], (long?)spec["responseStartTimeoutSeconds"]);
    }

    [Fact]
    public void TheGateway_FunctionsHostTakesRequestBodies_AsLargeAsTheGatewaysUploadLimit()
    {
        // Otherwise the host refuses an upload the gateway allows, before the gateway sees it (and with a 500, not a 413).
        var gateway = Manifests.KnativeServices.Single(s => s.Name == "gateway").Json["spec"]!["template"]!["spec"]!["containers"]![0]!;
        string[] limits = ["Gateway__MaxUploadBytes", "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"];
        var env = gateway["env"]!.AsArray().Where(e => limits.Contains((string?)e!["name"])).ToDictionary(e => (string)e!["name"]!, e => long.Parse((string)e!["value"]!, System.Globalization.CultureInfo.InvariantCulture));

        Assert.True(env["Gateway__MaxUploadBytes"] > 100L * 1024 * 1024);
        Assert.True(env["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"] >= env["Gateway__MaxUploadBytes"]);
    }

    [Fact]
    public void TheGateway_ReadsItsApiKeys_FromASecret_WholeAndOnlyHashes()
    {
        var gateway = Manifests.KnativeServices.Single(s => s.Name == "gateway").Json["spec"]!["template"]!["spec"]!["containers"]![0]!;
        var secret = (string?)gateway["envFrom"]!.AsArray().Single(source => source!["secretRef"] is not null)!["secretRef"]!["name"];
        var keys = Manifests.OfKind("v1", "Secret").Single(s => s.Name == secret).Json["stringData"]!.AsObject();

        Assert.NotEmpty(keys);
        Assert.All(keys, entry => Assert.Matches(@"^Gateway__ApiKeys__\d+__(User|Sha256)$", entry.Key));
        Assert.All(keys.Where(entry => entry.Key.EndsWith("__Sha256", StringComparison.Ordinal)), entry => Assert.Matches("^[0-9a-f]{64}$", (string?)entry.Value));
    }

    // A list's entries are configured by index (Gateway:ApiKeys:0:User); the code declares the list's property and the
    // entry type's properties once (Gateway:ApiKeys:*:User).
    private static string ListEntriesAsOne(string key) => ListIndexPattern().Replace(key, ":*:");

    /// <summary>
    /// The configuration keys the code binds: for every options class (a file declaring <c>const string SectionName</c>),
    /// its section and each public settable property, as <c>Section:Property</c>. Read from the sources, not by
    /// reflection, so this project does not drag the function apps' native payloads (ONNX Runtime, SkiaSharp) along.
    /// </summary>
    private static HashSet<string> ConfigurationKeysInCode()
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var folder in new[] { "functions", "events" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Repository.Root, folder), "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                {
                    continue;
                }

                var source = File.ReadAllText(file);
                foreach (Match section in SectionNamePattern().Matches(source))
                {
                    // The properties of the type that declares the section: from the declaration to the next type's.
                    var body = source[section.Index..];
                    var next = NextTypePattern().Match(body);
                    body = next.Success ? body[..next.Index] : body;
                    foreach (Match property in PropertyPattern().Matches(body))
                    {
                        keys.Add($"{section.Groups[1].Value}:{property.Groups[1].Value}");
                        // A list of records: each settable property of the entry type is a key of every entry.
                        if (ListPropertyPattern().Match(property.Value) is { Success: true } list)
                        {
                            foreach (var entry in PropertiesOf(list.Groups[1].Value))
                            {
                                keys.Add($"{section.Groups[1].Value}:{property.Groups[1].Value}:*:{entry}");
                            }
                        }
                    }
                }
            }
        }

        return keys;
    }

    /// <summary>The public settable properties of the type named <paramref name="typeName"/>, from the sources.</summary>
    private static IEnumerable<string> PropertiesOf(string typeName)
    {
        var declaration = new Regex($@"\n(public |internal )?(sealed )?(partial )?(record|class|struct) {Regex.Escape(typeName)}\b");
        foreach (var folder in new[] { "functions", "events" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Repository.Root, folder), "*.cs", SearchOption.AllDirectories))
            {
                var source = File.ReadAllText(file);
                if (declaration.Match(source) is not { Success: true } found)
                {
                    continue;
                }

                var body = source[(found.Index + found.Length)..];
                var next = NextTypePattern().Match(body);
                body = next.Success ? body[..next.Index] : body;
                return [.. PropertyPattern().Matches(body).Select(m => m.Groups[1].Value)];
            }
        }

        return [];
    }

    [GeneratedRegex(@":\d+:")]
    private static partial Regex ListIndexPattern();

    [GeneratedRegex(@"public (?:IReadOnlyList|IList|List|IEnumerable)<(\w+)> ")]
    private static partial Regex ListPropertyPattern();

    [GeneratedRegex(@"const string SectionName = ""([^""]+)"";")]
    private static partial Regex SectionNamePattern();

    [GeneratedRegex(@"\n(public |internal )?(sealed )?(partial )?(record|class|struct) ")]
    private static partial Regex NextTypePattern();

    [GeneratedRegex(@"public [\w<>?,. ]+? (\w+) \{ get; (init|set); \}")]
    private static partial Regex PropertyPattern();
}
