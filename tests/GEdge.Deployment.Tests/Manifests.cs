namespace GEdge.Deployment.Tests;

/// <summary>Every document of every manifest in knative/.</summary>
internal static class Manifests
{
    public static IReadOnlyList<YamlDocument> All { get; } =
        [.. Directory.GetFiles(Repository.Knative, "*.yaml").Where(f => Path.GetFileName(f) != "kustomization.yaml").Order(StringComparer.Ordinal).SelectMany(Yaml.ReadFile)];

    public static IEnumerable<YamlDocument> OfKind(string apiVersion, string kind) =>
        All.Where(d => d.ApiVersion == apiVersion && d.Kind == kind);

    public static IEnumerable<YamlDocument> KnativeServices => OfKind("serving.knative.dev/v1", "Service");

    public static IEnumerable<YamlDocument> Triggers => OfKind("eventing.knative.dev/v1", "Trigger");
}
