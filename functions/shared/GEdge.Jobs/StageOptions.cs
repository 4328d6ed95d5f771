namespace GEdge.Jobs;

/// <summary>Options every stage shares, bound from configuration section <c>Stages</c>.</summary>
public sealed record StageOptions
{
    /// <summary>
    /// Whether a stage tells the next one that a job is coming when it starts on the job (a stage warm-up event), so the
    /// next stage's cold start is paid while this one works. On by default; off only to measure what it hides
    /// (<c>gedge bench --scale-to-zero</c>).
    /// </summary>
    public bool WarmNextStage { get; init; } = true;

    /// <summary>How long a claim holds the job before the sweeper may take it back.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How often a working stage renews its lease; well inside <see cref="Lease"/>.</summary>
    public TimeSpan LeaseRenewal { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The source attribute of the events this process sends (its Knative Service's address).</summary>
    public Uri EventSource { get; init; } = new("/gedge", UriKind.Relative);

    /// <summary>
    /// How long a stage told to stop (SIGTERM) may go on with the job in hand before it gives the job back; less than the
    /// host's shutdown timeout (30 s by default) and than the 20 s <c>gedge</c> gives a command to end after SIGTERM, so the
    /// giving back happens before either gives up.
    /// </summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long a failed attempt waits before the job is announced again, doubled for each restart after the first (2 s,
    /// 4 s, ...): a fault that lasts seconds (storage or the job table restarting) would otherwise use up every attempt
    /// at once. The stage holds its reply that long; a process told to stop replies at once.
    /// </summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);
}
