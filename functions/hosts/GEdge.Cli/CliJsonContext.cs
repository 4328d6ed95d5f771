using System.Text.Json.Serialization;

namespace GEdge.Cli;

/// <summary>Source-generated JSON for what the job commands print.</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[JsonSerializable(typeof(List<IReadOnlyDictionary<string, string>>))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
