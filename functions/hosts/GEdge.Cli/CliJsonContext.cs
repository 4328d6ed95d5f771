using System.Text.Json.Serialization;

namespace GEdge.Cli;

/// <summary>Source-generated JSON for what the job commands print, and the start-up parts <c>gedge run --timings</c> writes.</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[JsonSerializable(typeof(List<IReadOnlyDictionary<string, string>>))]
[JsonSerializable(typeof(IReadOnlyList<StartupPart>))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
