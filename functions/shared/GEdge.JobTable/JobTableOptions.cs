using GEdge.Contracts;

namespace GEdge.JobTable;

/// <summary>Settings of the job table, bound from the "JobTable" configuration section.</summary>
public sealed record JobTableOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "JobTable";

    /// <summary>A StackExchange.Redis connection string to a Redis server; null or empty to use the embedded Garnet server.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The prefix of every key the job table writes, so several deployments (or tests) can share one server.</summary>
    public string KeyPrefix { get; set; } = "gedge";

    /// <summary>How many failed attempts end a job in <see cref="JobStatus.Exit"/>.</summary>
    public int IterationLimit { get; set; } = 3;

    /// <summary>How long a stage holds a job before the stuck-job sweeper may take it back, unless it renews the lease.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How many times a Redis call that failed transiently (connection lost, server restarting) is tried again; 0 for never.</summary>
    public int RetryAttempts { get; set; } = 6;

    /// <summary>The wait before the first retry of a Redis call; it doubles for each next one (with jitter), up to 5 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>What is wrong with the settings, naming the setting; null if nothing is.</summary>
    internal string? Problem() =>
        string.IsNullOrWhiteSpace(KeyPrefix) ? $"{SectionName}:{nameof(KeyPrefix)} must not be empty."
        : IterationLimit < 1 ? $"{SectionName}:{nameof(IterationLimit)} must be at least 1, not {IterationLimit}."
        : LeaseDuration <= TimeSpan.Zero ? $"{SectionName}:{nameof(LeaseDuration)} must be positive, not {LeaseDuration}."
        : RetryAttempts < 0 ? $"{SectionName}:{nameof(RetryAttempts)} must not be negative, not {RetryAttempts}."
        : RetryDelay <= TimeSpan.Zero ? $"{SectionName}:{nameof(RetryDelay)} must be positive, not {RetryDelay}."
        : null;
}
