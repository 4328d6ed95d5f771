using k8s;
using k8s.Models;

namespace GEdge.Deployment.Tests;

/// <summary>
/// Every manifest in knative/ is one a cluster would take as written: Knative resources against their CRD's schema (the
/// reference copies in ../shared/schemas), core Kubernetes objects read strictly into the official client's types (an
/// unknown or misplaced field fails), and kustomization.yaml lists exactly the files there are.
/// </summary>
public sealed class ManifestSchemaTests
{
    private static readonly Dictionary<(string ApiVersion, string Kind), Func<string, object>> s_coreKinds = new()
    {
        [("v1", "ConfigMap")] = yaml => KubernetesYaml.Deserialize<V1ConfigMap>(yaml, strict: true),
        [("v1", "Secret")] = yaml => KubernetesYaml.Deserialize<V1Secret>(yaml, strict: true),
        [("v1", "Service")] = yaml => KubernetesYaml.Deserialize<V1Service>(yaml, strict: true),
        [("apps/v1", "Deployment")] = yaml => KubernetesYaml.Deserialize<V1Deployment>(yaml, strict: true),
        [("apps/v1", "StatefulSet")] = yaml => KubernetesYaml.Deserialize<V1StatefulSet>(yaml, strict: true),
        [("batch/v1", "Job")] = yaml => KubernetesYaml.Deserialize<V1Job>(yaml, strict: true),
        [("v1", "PersistentVolumeClaim")] = yaml => KubernetesYaml.Deserialize<V1PersistentVolumeClaim>(yaml, strict: true),
    };

    public static TheoryData<string> Documents()
    {
        var data = new TheoryData<string>();
        foreach (var document in Manifests.All)
        {
            data.Add(document.ToString());
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Manifest_IsValidForItsKind(string document)
    {
        var manifest = Manifests.All.Single(d => d.ToString() == document);
        Assert.False(string.IsNullOrEmpty(manifest.Name), $"{manifest} has no metadata.name.");
        var key = (manifest.ApiVersion!, manifest.Kind!);
        if (Schemas.CrdFiles.ContainsKey(key))
        {
            var results = Schemas.Evaluate(Schemas.ForCrd(key.Item1, key.Item2), manifest.Json);
            Assert.True(results.IsValid, $"{manifest} does not match its CRD's schema:{Environment.NewLine}{Schemas.Describe(results)}");
        }
        else if (s_coreKinds.TryGetValue(key, out var deserialize))
        {
            var exception = Record.Exception(() => deserialize(manifest.Text));
            Assert.True(exception is null, $"{manifest} is not a valid {key}: {exception?.Message}");
        }
        else
        {
            Assert.Fail($"{manifest}: {key} has no schema to check it by; add its CRD or client type here.");
        }
    }

    [Fact]
    public void Kustomization_ListsEveryManifest_AndOnlyManifestsThatExist()
    {
        var kustomization = Yaml.ReadFile(Path.Combine(Repository.Knative, "kustomization.yaml")).Single().Json;
        var listed = kustomization["resources"]!.AsArray().Select(r => (string)r!).Order(StringComparer.Ordinal);
        var present = Directory.GetFiles(Repository.Knative, "*.yaml").Select(Path.GetFileName)
            .Where(f => f != "kustomization.yaml").Order(StringComparer.Ordinal);

        Assert.Equal(present, listed);
    }

    [Fact]
    public void FuncYaml_IsValidAgainstFuncsSchema()
    {
        var document = Yaml.ReadFile(Path.Combine(Repository.Root, "func.yaml")).Single();
        var results = Schemas.Evaluate(Schemas.FuncYaml(), document.Json);

        Assert.True(results.IsValid, $"func.yaml does not match func's schema:{Environment.NewLine}{Schemas.Describe(results)}");
        Assert.Equal("/readyz", (string?)document.Json["deploy"]?["healthEndpoints"]?["readiness"]);
        Assert.Equal(0L, (long?)document.Json["deploy"]?["options"]?["scale"]?["min"]);
    }

    [Fact]
    public void SchemaCheck_RefusesWhatTheApiServerWould()
    {
        // The validator itself: a misplaced field (nodeSelector on the container), a wrong type and a missing required
        // field each fail, so a green run means the manifests were checked, not that the schema accepts anything.
        var service = Manifests.KnativeServices.First().Json.DeepClone().AsObject();
        service["spec"]!["template"]!["spec"]!["containers"]![0]!["nodeSelector"] = new System.Text.Json.Nodes.JsonObject { ["a"] = "b" };
        Assert.False(Schemas.Evaluate(Schemas.ForCrd("serving.knative.dev/v1", "Service"), service).IsValid);

        var trigger = Manifests.Triggers.First().Json.DeepClone().AsObject();
        trigger["spec"]!["delivery"]!["retry"] = "three";
        Assert.False(Schemas.Evaluate(Schemas.ForCrd("eventing.knative.dev/v1", "Trigger"), trigger).IsValid);

        var ping = Manifests.OfKind("sources.knative.dev/v1", "PingSource").First().Json.DeepClone().AsObject();
        ping["spec"]!.AsObject().Remove("sink");
        ping["spec"]!["sinc"] = "gateway";
        Assert.False(Schemas.Evaluate(Schemas.ForCrd("sources.knative.dev/v1", "PingSource"), ping).IsValid);

        var configMap = Manifests.OfKind("v1", "ConfigMap").First().Text + "\nspec: {}\n";
        Assert.ThrowsAny<Exception>(() => KubernetesYaml.Deserialize<V1ConfigMap>(configMap, strict: true));
    }
}
