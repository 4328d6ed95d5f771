using System.Text.Json.Nodes;
using Json.Schema;

namespace GEdge.Deployment.Tests;

/// <summary>
/// The reference schemas as JSON Schemas: each CRD's openAPIV3Schema converted as the API server reads it, and func's
/// func.yaml schema.
/// </summary>
internal static class Schemas
{
    /// <summary>The CRD files for the Knative kinds the manifests use, by apiVersion and kind.</summary>
    public static IReadOnlyDictionary<(string ApiVersion, string Kind), string> CrdFiles { get; } = new Dictionary<(string, string), string>
    {
        [("serving.knative.dev/v1", "Service")] = "knative-serving/crd-service.yaml",
        [("eventing.knative.dev/v1", "Broker")] = "knative-eventing/crd-broker.yaml",
        [("eventing.knative.dev/v1", "Trigger")] = "knative-eventing/crd-trigger.yaml",
        [("sources.knative.dev/v1", "PingSource")] = "knative-eventing/crd-pingsource.yaml",
        [("sources.knative.dev/v1", "SinkBinding")] = "knative-eventing/crd-sinkbindings.yaml",
    };

    private static readonly Dictionary<(string, string), JsonSchema> s_crds = [];

    public static EvaluationOptions Options { get; } = new()
    {
        OutputFormat = OutputFormat.List,
        EvaluateAs = SpecVersion.Draft7,
    };

    /// <summary>The JSON Schema of <paramref name="apiVersion"/> <paramref name="kind"/> from its CRD.</summary>
    public static JsonSchema ForCrd(string apiVersion, string kind)
    {
        lock (s_crds)
        {
            if (!s_crds.TryGetValue((apiVersion, kind), out var schema))
            {
                var file = Path.Combine(Repository.Schemas, CrdFiles[(apiVersion, kind)]);
                schema = JsonSchema.FromText(WithTypeAndObjectMeta(Convert(OpenApiSchema(file, apiVersion, kind)), apiVersion, kind).ToJsonString());
                s_crds[(apiVersion, kind)] = schema;
            }

            return schema;
        }
    }

    /// <summary>func's schema of func.yaml. Its <c>$schema</c> says draft-04, which JsonSchema.Net does not implement; the
    /// keywords it uses (type, properties, additionalProperties, pattern, enum, required, $ref to definitions) mean the same
    /// in draft 7, so the declarations are dropped and it is evaluated as draft 7.</summary>
    public static JsonSchema FuncYaml()
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(Repository.Schemas, "knative-func", "func_yaml-schema.json")))!;
        RemoveSchemaDeclarations(json);
        return JsonSchema.FromText(json.ToJsonString());
    }

    /// <summary>The openAPIV3Schema of the served version of the CRD in <paramref name="file"/>.</summary>
    public static JsonObject OpenApiSchema(string file, string apiVersion, string kind)
    {
        var crd = Yaml.ReadFile(file).Single(d => d.Kind == "CustomResourceDefinition").Json;
        var spec = crd["spec"]!;
        var group = (string)spec["group"]!;
        var version = apiVersion.Split('/')[1];
        if (apiVersion != $"{group}/{version}" || (string?)spec["names"]?["kind"] != kind)
        {
            throw new InvalidOperationException($"{file} defines {spec["names"]?["kind"]} in {group}, not {kind} in {apiVersion}.");
        }

        var served = spec["versions"]!.AsArray().SingleOrDefault(v => (string?)v!["name"] == version && (bool?)v["served"] == true)
            ?? throw new InvalidOperationException($"{file} serves no version {version}.");
        return served["schema"]!["openAPIV3Schema"]!.AsObject();
    }

    /// <summary>
    /// An OpenAPI v3 structural schema, as the API server applies it, as JSON Schema (draft 7):
    /// <list type="bullet">
    /// <item>an object schema with properties and no <c>x-kubernetes-preserve-unknown-fields</c> takes no other fields
    /// (<c>additionalProperties: false</c>): the API server would prune them silently, and kubectl's field validation
    /// refuses them, so a misspelled or misplaced field is a failure here;</item>
    /// <item><c>x-kubernetes-int-or-string</c> is an integer or a string; <c>nullable</c> adds null;</item>
    /// <item>descriptions, formats (int32, int64, byte: annotations to JSON Schema), defaults and the other
    /// <c>x-kubernetes-*</c> extensions (list and map types) do not constrain a single manifest and are dropped.</item>
    /// </list>
    /// </summary>
    public static JsonObject Convert(JsonObject openApi)
    {
        var result = new JsonObject();
        var preserveUnknown = (bool?)openApi["x-kubernetes-preserve-unknown-fields"] == true;
        var intOrString = (bool?)openApi["x-kubernetes-int-or-string"] == true;
        var nullable = (bool?)openApi["nullable"] == true;
        foreach (var (key, value) in openApi)
        {
            switch (key)
            {
                case "type" when !intOrString:
                    result["type"] = nullable ? new JsonArray((string)value!, "null") : value!.DeepClone();
                    break;
                case "properties":
                    var properties = new JsonObject();
                    foreach (var (name, property) in value!.AsObject())
                    {
                        properties[name] = Convert(property!.AsObject());
                    }

                    result["properties"] = properties;
                    break;
                case "items":
                    result["items"] = Convert(value!.AsObject());
                    break;
                case "additionalProperties":
                    result["additionalProperties"] = value is JsonObject additional ? Convert(additional) : value!.DeepClone();
                    break;
                case "allOf" or "anyOf" or "oneOf":
                    result[key] = new JsonArray([.. value!.AsArray().Select(s => (JsonNode)Convert(s!.AsObject()))]);
                    break;
                case "not":
                    result["not"] = Convert(value!.AsObject());
                    break;
                case "required" or "enum" or "pattern" or "minimum" or "maximum" or "exclusiveMinimum" or "exclusiveMaximum"
                    or "minLength" or "maxLength" or "minItems" or "maxItems" or "uniqueItems" or "minProperties" or "maxProperties"
                    or "multipleOf":
                    result[key] = value?.DeepClone();
                    break;
                default:
                    // description, format, default, example, nullable, x-kubernetes-*: see the summary.
                    break;
            }
        }

        if (intOrString)
        {
            result["anyOf"] = new JsonArray(new JsonObject { ["type"] = "integer" }, new JsonObject { ["type"] = "string" });
        }

        if (result.ContainsKey("properties") && !result.ContainsKey("additionalProperties") && !preserveUnknown)
        {
            result["additionalProperties"] = false;
        }

        return result;
    }

    /// <summary>
    /// A CRD's schema leaves out what every resource has: apiVersion, kind (here, exactly the CRD's) and metadata, which
    /// the API server checks as ObjectMeta. The part a manifest writes is checked here: names, and labels and annotations
    /// whose values must be strings (an unquoted <c>min-scale: 0</c> is refused).
    /// </summary>
    private static JsonObject WithTypeAndObjectMeta(JsonObject schema, string apiVersion, string kind)
    {
        var properties = schema["properties"]?.AsObject() ?? [];
        properties["apiVersion"] = new JsonObject { ["const"] = apiVersion };
        properties["kind"] = new JsonObject { ["const"] = kind };
        var stringMap = new JsonObject { ["type"] = "object", ["additionalProperties"] = new JsonObject { ["type"] = "string" } };
        properties["metadata"] = new JsonObject
        {
            ["type"] = "object",
            ["required"] = new JsonArray("name"),
            ["additionalProperties"] = false,
            ["properties"] = new JsonObject
            {
                ["name"] = new JsonObject { ["type"] = "string", ["pattern"] = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", ["maxLength"] = 63 },
                ["namespace"] = new JsonObject { ["type"] = "string" },
                ["labels"] = stringMap.DeepClone(),
                ["annotations"] = stringMap.DeepClone(),
            },
        };
        schema["properties"] = properties;
        var required = schema["required"]?.AsArray().Select(r => (string)r!) ?? [];
        schema["required"] = new JsonArray([.. required.Union(["apiVersion", "kind", "metadata"]).Select(r => (JsonNode)r)]);
        return schema;
    }

    /// <summary>The failures of an evaluation, one line each: where in the instance, and what is wrong.</summary>
    public static string Describe(EvaluationResults results) =>
        string.Join(
            Environment.NewLine,
            (results.Details ?? [])
                .Where(d => d.HasErrors)
                .SelectMany(d => d.Errors!.Select(e => $"  {d.InstanceLocation} ({d.EvaluationPath}): {e.Key}: {e.Value}"))
                .Distinct());

    public static EvaluationResults Evaluate(JsonSchema schema, JsonNode instance) =>
        schema.Evaluate(instance, Options);

    private static void RemoveSchemaDeclarations(JsonNode node)
    {
        switch (node)
        {
            case JsonObject json:
                json.Remove("$schema");
                foreach (var (_, child) in json.ToList())
                {
                    if (child is not null)
                    {
                        RemoveSchemaDeclarations(child);
                    }
                }

                break;
            case JsonArray array:
                foreach (var child in array.Where(c => c is not null))
                {
                    RemoveSchemaDeclarations(child!);
                }

                break;
        }
    }
}
