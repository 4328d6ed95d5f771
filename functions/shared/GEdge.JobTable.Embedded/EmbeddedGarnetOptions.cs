using Garnet.server;

namespace GEdge.JobTable.Embedded;

/// <summary>Settings of the in-process Garnet server, bound from the "JobTable:Embedded" configuration section.</summary>
public sealed record EmbeddedGarnetOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "JobTable:Embedded";

    /// <summary>The folder that holds the server's data (relative paths are under the current directory).</summary>
    public string DataPath { get; set; } = Path.Combine(".gedge", "data", "garnet");

    /// <summary>The loopback port to listen on; 0 picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>
    /// How much of the store is kept in memory (Garnet size syntax: "8m", "1g"); the rest spills to the data folder. A job
    /// takes a few kilobytes, a 60-segment job with its segments' history some tens of kilobytes, so 8m holds over a
    /// hundred such jobs in memory; what spills is read back from the data folder when asked for.
    /// </summary>
    public string MemorySize { get; set; } = "8m";

    /// <summary>
    /// The size of the store's hash index (Garnet size syntax). 8m holds about 900,000 keys (a job takes two) before
    /// chaining; the index is fixed, since Garnet's auto-grow task logs an error on every shutdown.
    /// </summary>
    public string IndexSize { get; set; } = "8m";

    /// <summary>How often a checkpoint is taken so that a restart replays only a short log; zero turns periodic checkpoints off.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>What is wrong with the settings, naming the setting; null if nothing is.</summary>
    internal string? Problem() =>
        string.IsNullOrWhiteSpace(DataPath) ? $"{SectionName}:{nameof(DataPath)} must not be empty."
        : Port is < 0 or > 65535 ? $"{SectionName}:{nameof(Port)} must be 0 (any free port) or a port number, not {Port}."
        : !IsSize(MemorySize) ? $"{SectionName}:{nameof(MemorySize)} must be a size such as 8m or 1g, not '{MemorySize}'."
        : !IsSize(IndexSize) ? $"{SectionName}:{nameof(IndexSize)} must be a size such as 8m or 1g, not '{IndexSize}'."
        : CheckpointInterval < TimeSpan.Zero ? $"{SectionName}:{nameof(CheckpointInterval)} must not be negative, not {CheckpointInterval}."
        : null;

    // Garnet's own reading of its size syntax (what its command line's validation used; the server is no longer given one).
    private static bool IsSize(string? value) =>
        !string.IsNullOrWhiteSpace(value) && ServerOptions.TryParseSize(value, out var bytes) && bytes > 0;
}
