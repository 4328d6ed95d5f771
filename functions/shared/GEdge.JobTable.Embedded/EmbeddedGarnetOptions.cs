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
    /// How much of the store is kept in memory (Garnet size syntax: "32m", "1g"); the rest spills to the data folder and is
    /// read back from there when asked for. A job takes a few kilobytes, a 60-segment job with its segments' history some
    /// tens of kilobytes, so 32m holds several hundred such jobs. Memory is taken as records arrive, not up front: a
    /// `gedge run` on a data folder of 1,000 jobs peaked at the same 220 MB with 8m, 16m and 32m.
    /// <para>
    /// Why not smaller: Garnet (2.2.12) counts the hashes and lists of the records in memory against this budget, and when
    /// they exceed it, it evicts up to a few kilobytes short of the log's tail (Tsavorite's LogSizeTracker.
    /// DetermineEvictionRange, libs/storage/Tsavorite/cs/src/core/Index/Common/LogSizeTracker.cs, evicts until
    /// MinEvictionHeadAddressLag below the tail), so it writes to disk the hashes that commands are still changing. Its
    /// flush then fails ("Collection was modified" in HashObject/ListObject.DoSerialize, or IndexOutOfRange) and Garnet
    /// ends the process with Environment.FailFast, as the job table's own tests saw in CI. Measured with the real job
    /// table (8 connections, 8 jobs at a time of 60 segments, each segment given a 16 KB field, 30 s per run): 3 crashes
    /// in 8 runs with 8m, none in 11 runs with 16m, 32m or 64m. So the budget is kept well above what the jobs being
    /// worked on hold, and <see cref="MinimumMemorySize"/> is the least Garnet itself accepts.
    /// </para>
    /// </summary>
    public string MemorySize { get; set; } = "32m";

    /// <summary>The least <see cref="MemorySize"/> Garnet starts with: four of the log's 1 MB pages (less fails its start).</summary>
    public const long MinimumMemorySize = 4L << 20;

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
        : !IsSize(MemorySize) ? $"{SectionName}:{nameof(MemorySize)} must be a size such as 32m or 1g, not '{MemorySize}'."
        : Bytes(MemorySize) < MinimumMemorySize ? $"{SectionName}:{nameof(MemorySize)} must be at least 4m (four of the store's 1 MB pages), not '{MemorySize}'."
        : !IsSize(IndexSize) ? $"{SectionName}:{nameof(IndexSize)} must be a size such as 8m or 1g, not '{IndexSize}'."
        : CheckpointInterval < TimeSpan.Zero ? $"{SectionName}:{nameof(CheckpointInterval)} must not be negative, not {CheckpointInterval}."
        : null;

    // Garnet's own reading of its size syntax (what its command line's validation used; the server is no longer given one).
    private static bool IsSize(string? value) => Bytes(value) > 0;

    private static long Bytes(string? value) =>
        !string.IsNullOrWhiteSpace(value) && ServerOptions.TryParseSize(value, out var bytes) ? bytes : 0;
}
