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

    /// <summary>What is wrong with the settings, naming the setting; null if nothing is.</summary>
    internal string? Problem() =>
        string.IsNullOrWhiteSpace(KeyPrefix) ? $"{SectionName}:{nameof(KeyPrefix)} must not be empty."
        : IterationLimit < 1 ? $"{SectionName}:{nameof(IterationLimit)} must be at least 1, not {IterationLimit}."
        : LeaseDuration <= TimeSpan.Zero ? $"{SectionName}:{nameof(LeaseDuration)} must be positive, not {LeaseDuration}."
        : null;
}
