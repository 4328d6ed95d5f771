using GEdge.Contracts;
using GEdge.JobTable;

namespace GEdge.Jobs;

/// <summary>
/// One stage's part of what the cluster is doing: segments waiting for it, segments it is working on (a job's cut counts
/// as the first stage's), and segments it completed in the last <see cref="ClusterActivity.Window"/>.
/// </summary>
public sealed record StageActivity(string Stage, int Waiting, int InFlight, int DoneLastMinute);

/// <summary>
/// What the whole cluster is doing now, for every user together and in counts only: per stage, the segments waiting for
/// it, in flight in it and done by it in the last minute (its throughput), read from the job table (the open jobs'
/// segments, and the segment histories of those and of the jobs that ended within the window). Bounded: at most
/// <see cref="MaxJobs"/> jobs of each status are read, so a backlog larger than that is counted in part.
/// </summary>
/// <param name="At">When it was read.</param>
/// <param name="OpenJobs">Jobs not yet in Exit (as read, up to the bound per status).</param>
/// <param name="Stages">Each stage, in the pipeline's order.</param>
public sealed record ClusterActivity(DateTimeOffset At, int OpenJobs, IReadOnlyList<StageActivity> Stages)
{
    /// <summary>The window the throughput is counted over.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    /// <summary>The most jobs of one status read.</summary>
    public const int MaxJobs = 200;

    /// <summary>Reads the cluster's activity from <paramref name="jobs"/> at <paramref name="time"/>'s now.</summary>
    public static async Task<ClusterActivity> ReadAsync(JobTable.JobTable jobs, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(time);
        var now = time.GetUtcNow();
        var since = now - Window;
        var stages = PipelineTopology.Stages;
        var waiting = new int[stages.Count];
        var inFlight = new int[stages.Count];
        var done = new int[stages.Count];

        var open = new List<Job>();
        foreach (var status in JobStateMachine.Statuses.Where(status => !JobStateMachine.IsTerminal(status)))
        {
            open.AddRange(await jobs.ListByStatusAsync(status, MaxJobs).ConfigureAwait(false));
        }

        foreach (var job in open)
        {
            if (job.Segments is null)
            {
                // Not cut yet: waiting for the first stage, or being cut by it.
                Count(job.Status, waiting, inFlight, stages);
                continue;
            }

            foreach (var segment in await jobs.GetSegmentsAsync(job.Id).ConfigureAwait(false))
            {
                Count(segment.Status, waiting, inFlight, stages);
            }
        }

        var ended = (await jobs.ListByStatusAsync(JobStatus.Exit, MaxJobs, newestFirst: true).ConfigureAwait(false))
            .Where(job => job.EndTime >= since);
        foreach (var job in open.Concat(ended).Where(job => job.Segments is not null))
        {
            foreach (var entry in await jobs.GetSegmentHistoryAsync(job.Id).ConfigureAwait(false))
            {
                for (var i = 0; i < stages.Count; i++)
                {
                    if (entry.Status == stages[i].Completes && entry.Time >= since)
                    {
                        done[i]++;
                    }
                }
            }
        }

        return new ClusterActivity(now, open.Count, [.. stages.Select((stage, i) => new StageActivity(stage.Name, waiting[i], inFlight[i], done[i]))]);
    }

    private static void Count(JobStatus status, int[] waiting, int[] inFlight, IReadOnlyList<PipelineStage> stages)
    {
        for (var i = 0; i < stages.Count; i++)
        {
            if (status == stages[i].Consumes)
            {
                waiting[i]++;
            }
            else if (status == stages[i].Working)
            {
                inFlight[i]++;
            }
        }
    }
}
