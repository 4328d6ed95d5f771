using System.Collections.Frozen;
using System.Globalization;
using GEdge.Contracts;

namespace GEdge.JobTable;

/// <summary>
/// One segment of a job cut into segments: a piece of its video that moves through the stages on its own, with its own
/// status, attempts and lease. The job's status is its least advanced segment's.
/// </summary>
public sealed record JobSegment
{
    /// <summary>The segment's number, from 0, in the video's order.</summary>
    public required int Index { get; init; }

    /// <summary>Where the segment is in the pipeline (one of the statuses before <see cref="JobStatus.Exit"/>).</summary>
    public required JobStatus Status { get; init; }

    /// <summary>How many attempts on this segment failed.</summary>
    public int Iteration { get; init; }

    /// <summary>The time of the segment's first frame in the video, in seconds.</summary>
    public double Start { get; init; }

    /// <summary>When the segment entered its status.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>When the lease of the stage working on it runs out; only in a working status.</summary>
    public DateTimeOffset? LeaseDeadline { get; init; }

    /// <summary>Why its stage gave it back, until the next sweep re-queues it.</summary>
    public string? GivenBack { get; init; }

    /// <summary>The process that last claimed it (<c>host/pid</c>).</summary>
    public string? Worker { get; init; }

    /// <summary>Why its most recent attempt failed.</summary>
    public string? LastError { get; init; }

    /// <summary>What its stages recorded on it (frames, detections, seconds per stage, ...).</summary>
    public IReadOnlyDictionary<string, string> Fields { get; init; } = FrozenDictionary<string, string>.Empty;

    /// <summary>Reads a job's segments from its segments hash (fields <c>{n}.{name}</c>, and counts <c>count.{status}</c>).</summary>
    /// <exception cref="InvalidDataException">A segment's status or number is malformed.</exception>
    internal static IReadOnlyList<JobSegment> FromHash(string key, IReadOnlyDictionary<string, string> hash)
    {
        var bySegment = new SortedDictionary<int, Dictionary<string, string>>();
        foreach (var (field, value) in hash)
        {
            var dot = field.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0 || !int.TryParse(field.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                continue;
            }

            if (!bySegment.TryGetValue(index, out var fields))
            {
                bySegment[index] = fields = new Dictionary<string, string>(StringComparer.Ordinal);
            }

            fields[field[(dot + 1)..]] = value;
        }

        var segments = new List<JobSegment>(bySegment.Count);
        foreach (var (index, fields) in bySegment)
        {
            if (index != segments.Count)
            {
                throw new InvalidDataException($"The segments hash {key} has no segment {segments.Count}.");
            }

            string? Optional(string name) => fields.TryGetValue(name, out var value) && value.Length > 0 ? value : null;
            var status = Optional(JobFields.Status);
            segments.Add(new JobSegment
            {
                Index = index,
                Status = status is not null && Enum.TryParse<JobStatus>(status, out var parsed) && Enum.IsDefined(parsed)
                    ? parsed
                    : throw new InvalidDataException($"Segment {index} in {key} has status '{status}', which is not one of the eight job statuses."),
                Iteration = int.TryParse(Optional(JobFields.Iteration), NumberStyles.None, CultureInfo.InvariantCulture, out var iteration) ? iteration : 0,
                Start = double.TryParse(Optional(SegmentFields.Start), NumberStyles.Float, CultureInfo.InvariantCulture, out var start) ? start : 0,
                Since = JobTime.Parse(Optional(SegmentFields.Since)),
                LeaseDeadline = JobTime.Parse(Optional(JobFields.LeaseDeadline)),
                GivenBack = Optional(JobFields.GivenBack),
                Worker = Optional(SegmentFields.Worker),
                LastError = Optional(JobFields.LastError),
                Fields = fields.Where(p => !SegmentFields.IsReserved(p.Key)).ToFrozenDictionary(StringComparer.Ordinal),
            });
        }

        return segments;
    }
}

/// <summary>One status change of a segment: which, into what, when, and by which process (null for the job table's own moves).</summary>
public sealed record SegmentTransition(int Segment, JobStatus Status, DateTimeOffset Time, string? Worker);

/// <summary>What a segment's compare-and-set did: whether the segment moved, and whether its job's status moved with it.</summary>
public readonly record struct SegmentMove(bool Moved, bool JobMoved);

/// <summary>What a failed attempt on a segment did, the job as it is afterwards, and the segment's attempt count.</summary>
public sealed record SegmentFailureOutcome(FailureResult Result, Job? Job, int SegmentIteration);
