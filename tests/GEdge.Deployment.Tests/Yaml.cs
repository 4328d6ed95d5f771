using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace GEdge.Deployment.Tests;

/// <summary>One YAML document of a manifest file, as JSON (for JSON Schema) and as its own text (for the Kubernetes client).</summary>
internal sealed record YamlDocument(string File, int Index, JsonObject Json, string Text)
{
    public string? Kind => (string?)Json["kind"];

    public string? ApiVersion => (string?)Json["apiVersion"];

    public string? Name => (string?)Json["metadata"]?["name"];

    public override string ToString() => $"{Path.GetFileName(File)}#{Index} {Kind}/{Name}";
}

/// <summary>
/// YAML to JSON by the YAML 1.2 core schema, as Kubernetes reads it: a plain scalar is null, a boolean, an integer or a
/// float when it looks like one, else a string; a quoted scalar is always a string.
/// </summary>
internal static partial class Yaml
{
    public static IReadOnlyList<YamlDocument> ReadFile(string path)
    {
        var documents = new List<YamlDocument>();
        // Each document on its own, so its text goes to the Kubernetes client exactly as written.
        foreach (var text in DocumentSeparator().Split(File.ReadAllText(path)))
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
            {
                continue;
            }

            var json = ToJson(stream.Documents[0].RootNode) as JsonObject
                ?? throw new InvalidOperationException($"{path}: document {documents.Count} is not a mapping.");
            documents.Add(new YamlDocument(path, documents.Count, json, text));
        }

        return documents;
    }

    public static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode mapping => ToObject(mapping),
        YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(ToJson)]),
        YamlScalarNode scalar => ToScalar(scalar),
        _ => throw new InvalidOperationException($"Unsupported YAML node {node.NodeType} at {node.Start}."),
    };

    private static JsonObject ToObject(YamlMappingNode mapping)
    {
        var json = new JsonObject();
        foreach (var (key, value) in mapping.Children)
        {
            var name = ((YamlScalarNode)key).Value ?? string.Empty;
            if (json.ContainsKey(name))
            {
                throw new InvalidOperationException($"Duplicate key '{name}' at {key.Start}.");
            }

            json[name] = ToJson(value);
        }

        return json;
    }

    private static JsonValue? ToScalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? string.Empty;
        if (scalar.Style is not ScalarStyle.Plain)
        {
            return JsonValue.Create(value);
        }

        if (value is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        if (value is "true" or "True" or "TRUE")
        {
            return JsonValue.Create(true);
        }

        if (value is "false" or "False" or "FALSE")
        {
            return JsonValue.Create(false);
        }

        if (IntegerPattern().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }

        if (FloatPattern().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return JsonValue.Create(number);
        }

        return JsonValue.Create(value);
    }

    [GeneratedRegex(@"^---[ \t]*$", RegexOptions.Multiline)]
    private static partial Regex DocumentSeparator();

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
