using System.Collections.Frozen;

namespace GEdge.Contracts;

/// <summary>
/// The legal status moves of a job, derived from <see cref="PipelineTopology"/>; the job table's Lua scripts are generated
/// from this table.
/// </summary>
public static class JobStateMachine
{
    private static readonly JobStatus[] s_statuses = Enum.GetValues<JobStatus>();

    // Each working status, with the status its stage claims from and the status it completes into.
    private static readonly FrozenDictionary<JobStatus, PipelineStage> s_stages =
        PipelineTopology.Stages.ToFrozenDictionary(stage => stage.Working);

    private static readonly JobStatus[] s_working = [.. s_stages.Keys.Order()];

    private static readonly FrozenDictionary<JobStatus, FrozenSet<JobStatus>> s_next = BuildTable();

    /// <summary>The statuses in their pipeline order.</summary>
    public static IReadOnlyList<JobStatus> Statuses => s_statuses;

    /// <summary>The working statuses: the ones a stage claims a job into (Preprocessing, Inferencing, Postprocessing).</summary>
    public static IReadOnlyList<JobStatus> WorkingStatuses => s_working;

    /// <summary>The statuses a job in <paramref name="from"/> may move to.</summary>
    public static IReadOnlySet<JobStatus> NextStatuses(JobStatus from) => s_next[Defined(from)];

    /// <summary>Whether a job may move from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static bool IsLegal(JobStatus from, JobStatus to) => s_next[Defined(from)].Contains(Defined(to));

    /// <summary>Whether a stage is working on a job in this status (it holds a lease).</summary>
    public static bool IsWorking(JobStatus status) => s_stages.ContainsKey(Defined(status));

    /// <summary>Whether the status is final.</summary>
    public static bool IsTerminal(JobStatus status) => Defined(status) == JobStatus.Exit;

    /// <summary>The status a stage claims from to enter <paramref name="working"/> (Preprocessing consumes Enqueue).</summary>
    public static JobStatus ConsumedBy(JobStatus working) => Stage(working).Consumes;

    /// <summary>The status a stage moves to when it finishes <paramref name="working"/> (Preprocessing completes into Preprocessing_complete).</summary>
    public static JobStatus CompletionOf(JobStatus working) => Stage(working).Completes;

    private static FrozenDictionary<JobStatus, FrozenSet<JobStatus>> BuildTable()
    {
        var next = s_statuses.ToDictionary(s => s, _ => new HashSet<JobStatus>());
        for (var i = 0; i < s_statuses.Length - 1; i++)
        {
            // Forward along the pipeline, one step at a time.
            next[s_statuses[i]].Add(s_statuses[i + 1]);

            // Anything not finished may end: failure, cancellation, input that can never be processed.
            next[s_statuses[i]].Add(JobStatus.Exit);
        }

        // A failed attempt puts the job back where its stage picks it up again.
        foreach (var stage in PipelineTopology.Stages)
        {
            next[stage.Working].Add(stage.Consumes);
        }

        return next.ToFrozenDictionary(p => p.Key, p => p.Value.ToFrozenSet());
    }

    private static PipelineStage Stage(JobStatus working) =>
        s_stages.TryGetValue(Defined(working), out var stage)
            ? stage
            : throw new ArgumentException(
                $"{working} is not a working status; only {string.Join(", ", s_working)} are claimed by a stage.",
                nameof(working));

    private static JobStatus Defined(JobStatus status) =>
        Enum.IsDefined(status)
            ? status
            : throw new ArgumentOutOfRangeException(nameof(status), status, "Not one of the eight job statuses.");
}
