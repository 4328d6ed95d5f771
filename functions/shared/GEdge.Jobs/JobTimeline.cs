using GEdge.Contracts;
using GEdge.JobTable;

namespace GEdge.Jobs;

/// <summary>How one stage's attempt at one segment went.</summary>
public enum AttemptOutcome
{
    /// <summary>The segment is ready for the stage and waits for it.</summary>
    Waiting,

    /// <summary>The stage claimed the segment and works on it.</summary>
    Running,

    /// <summary>The stage completed the segment.</summary>
    Done,

    /// <summary>
    /// The segment went back to wait for the stage again: the attempt failed, its lease ran out and the sweeper took it
    /// back, or its process gave it back while stopping. The next attempt is the segment's next one for this stage.
    /// </summary>
    Failed,

    /// <summary>The job ended (failed elsewhere, or cancelled) while the segment waited for the stage or was worked on.</summary>
    Stopped,
}

/// <summary>
/// One attempt of a stage at a segment: when the segment became ready for the stage (<see cref="Ready"/>), when the
/// stage claimed it (<see cref="Started"/>; the time between is its queue wait), when the attempt ended, how, and which
/// process (<c>host/pid</c>) worked on it.
/// </summary>
public sealed record StageAttempt(int Segment, string Stage, DateTimeOffset Ready, DateTimeOffset? Started, DateTimeOffset? Ended, AttemptOutcome Outcome, string? Worker)
{
    /// <summary>Seconds the segment waited for the stage; null until it is claimed.</summary>
    public double? WaitSeconds => Started is { } started ? (started - Ready).TotalSeconds : null;

    /// <summary>Seconds the stage worked on it; null until the attempt ends.</summary>
    public double? WorkSeconds => Started is { } started && Ended is { } ended ? (ended - started).TotalSeconds : null;
}

/// <summary>A step of the job's own, outside its segments: <c>cut</c> (the first stage cutting the video) and <c>join</c> (the last joining the results).</summary>
public sealed record JobStep(string Name, DateTimeOffset Start, DateTimeOffset? End);

/// <summary>
/// A stage's part in a job, summed over its attempts: segments completed, attempts started, retries (attempts that
/// failed or were taken or given back), the seconds worked (every attempt's, the failed ones' too) and waited, the
/// longest of each, and from its first claim to its last completion.
/// </summary>
public sealed record StageBreakdown(
    string Stage, int Segments, int Attempts, int Retries, double WorkSeconds, double LongestWorkSeconds, double WaitSeconds, double LongestWaitSeconds,
    DateTimeOffset? FirstStart, DateTimeOffset? LastEnd);

/// <summary>
/// Where a job's time went, read from the job table's own history (the job's statuses and each segment's, with their
/// times and the processes that made them): every stage's attempt at every segment, the cut and the join, and a
/// breakdown per stage. What the jobs API's timeline, the dashboard's Gantt view and <c>gedge job ID</c> show.
/// </summary>
/// <param name="Created">When the job was made (its upload).</param>
/// <param name="Ended">When it reached Exit; null until then.</param>
/// <param name="Steps">The cut and the join, as far as they have got.</param>
/// <param name="Attempts">Every attempt, by segment, then stage, then time.</param>
/// <param name="Stages">The breakdown of each stage, in the pipeline's order.</param>
public sealed record JobTimeline(
    DateTimeOffset? Created, DateTimeOffset? Ended, IReadOnlyList<JobStep> Steps, IReadOnlyList<StageAttempt> Attempts, IReadOnlyList<StageBreakdown> Stages)
{
    /// <summary>The name of the cut's step.</summary>
    public const string Cut = "cut";

    /// <summary>The name of the join's step.</summary>
    public const string Join = "join";

    /// <summary>The timeline of <paramref name="job"/> from its status history and its segments' (oldest first, as the job table keeps them).</summary>
    public static JobTimeline Of(Job job, IReadOnlyList<JobTransition> history, IReadOnlyList<SegmentTransition> segmentHistory)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(segmentHistory);
        var ended = job.Status == JobStatus.Exit ? job.EndTime ?? (history.Count > 0 ? history[^1].Time : null) : null;
        var attempts = new List<StageAttempt>();
        foreach (var segment in segmentHistory.GroupBy(t => t.Segment).OrderBy(g => g.Key))
        {
            attempts.AddRange(AttemptsOf(segment.Key, segment, ended));
        }

        return new JobTimeline(job.CreatedTime, ended, StepsOf(history, segmentHistory, ended), attempts, [.. PipelineTopology.Stages.Select(stage => BreakdownOf(stage, attempts))]);
    }

    // A segment's entries, walked in order: entering what a stage consumes makes it ready for that stage (and, with an
    // attempt of that stage under way, ends that attempt as failed: it went back); entering its working status starts
    // the attempt; entering its completion ends it done (and, being the next stage's input, readies the segment for it).
    private static List<StageAttempt> AttemptsOf(int segment, IEnumerable<SegmentTransition> entries, DateTimeOffset? jobEnded)
    {
        var attempts = new List<StageAttempt>();
        var open = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            foreach (var stage in PipelineTopology.Stages)
            {
                if (entry.Status == stage.Completes && open.Remove(stage.Name, out var completed))
                {
                    attempts[completed] = attempts[completed] with { Ended = entry.Time, Outcome = AttemptOutcome.Done };
                }
                else if (entry.Status == stage.Working && open.TryGetValue(stage.Name, out var claimed))
                {
                    attempts[claimed] = attempts[claimed] with { Started = entry.Time, Outcome = AttemptOutcome.Running, Worker = entry.Worker };
                }
            }

            if (PipelineTopology.Stages.FirstOrDefault(stage => stage.Consumes == entry.Status) is { } ready)
            {
                if (open.TryGetValue(ready.Name, out var previous))
                {
                    if (attempts[previous].Outcome == AttemptOutcome.Waiting)
                    {
                        continue;
                    }

                    attempts[previous] = attempts[previous] with { Ended = entry.Time, Outcome = AttemptOutcome.Failed };
                }

                open[ready.Name] = attempts.Count;
                attempts.Add(new StageAttempt(segment, ready.Name, entry.Time, null, null, AttemptOutcome.Waiting, null));
            }
        }

        if (jobEnded is { } end)
        {
            foreach (var index in open.Values)
            {
                attempts[index] = attempts[index] with { Ended = end, Outcome = AttemptOutcome.Stopped };
            }
        }

        return attempts;
    }

    // The cut runs from the job's last claim by the first stage to the first segment's entry (the split); the join from
    // the job's entering the last completion to its Exit.
    private static List<JobStep> StepsOf(IReadOnlyList<JobTransition> history, IReadOnlyList<SegmentTransition> segmentHistory, DateTimeOffset? ended)
    {
        var steps = new List<JobStep>();
        var split = segmentHistory.Count > 0 ? segmentHistory[0].Time : (DateTimeOffset?)null;
        var cutStart = history.LastOrDefault(t => t.Status == PipelineTopology.First.Working && (split is null || t.Time <= split))?.Time;
        if (cutStart is { } cut)
        {
            steps.Add(new JobStep(Cut, cut, split ?? ended));
        }

        if (history.LastOrDefault(t => t.Status == PipelineTopology.Last.Completes)?.Time is { } join)
        {
            steps.Add(new JobStep(Join, join, ended));
        }

        return steps;
    }

    private static StageBreakdown BreakdownOf(PipelineStage stage, List<StageAttempt> attempts)
    {
        var mine = attempts.Where(a => a.Stage == stage.Name).ToList();
        var worked = mine.Select(a => a.WorkSeconds).OfType<double>().ToList();
        var waited = mine.Select(a => a.WaitSeconds).OfType<double>().ToList();
        return new StageBreakdown(
            stage.Name,
            mine.Count(a => a.Outcome == AttemptOutcome.Done),
            mine.Count(a => a.Started is not null),
            mine.Count(a => a.Outcome == AttemptOutcome.Failed),
            worked.Sum(),
            worked.DefaultIfEmpty().Max(),
            waited.Sum(),
            waited.DefaultIfEmpty().Max(),
            mine.Select(a => a.Started).Min(),
            mine.Where(a => a.Outcome == AttemptOutcome.Done).Select(a => a.Ended).Max());
    }
}
