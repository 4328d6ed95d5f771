using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Stages;

namespace GEdge.Gateway;

/// <summary>
/// A job as the API shows it: its record (the hash's fields, as <c>HGETALL</c> shows them), the statuses it passed
/// through, how long each part took, and where its results can be read once it has finished without error.
/// </summary>
/// <param name="Job">The job's fields: the eight contract fields first, then the extras (error, timings, ...).</param>
/// <param name="History">Every status the job entered, oldest first.</param>
/// <param name="Timings">
/// Seconds, of those known so far: each stage's own work by its working status (<c>Preprocessing</c>, <c>Inferencing</c>,
/// <c>Postprocessing</c>), <c>queued</c> (from upload until a stage took the job), <c>total</c> (from upload until Exit)
/// and <c>longest</c> (the longest single stage request: the cut, one stage of one segment, or the join; what a request
/// timeout such as Knative's <c>timeoutSeconds</c> must allow).
/// </param>
/// <param name="Results">Each result's URL path by name (<see cref="JobResults.Names"/>); empty until the job is in Exit without an error.</param>
/// <param name="Segments">The pieces the job's video was cut into and how far each has got; null until it is cut.</param>
public sealed record JobView(
    IReadOnlyDictionary<string, string> Job,
    IReadOnlyList<JobViewTransition> History,
    IReadOnlyDictionary<string, double> Timings,
    IReadOnlyDictionary<string, string> Results,
    SegmentsView? Segments = null)
{
    /// <summary>The timing of the wait before the first stage.</summary>
    public const string QueuedTiming = "queued";

    /// <summary>The timing of the whole job.</summary>
    public const string TotalTiming = "total";

    /// <summary>The timing of the longest single stage request.</summary>
    public const string LongestTiming = "longest";

    /// <summary>The view of <paramref name="job"/> with its <paramref name="history"/>, its results under <paramref name="jobPath"/>.</summary>
    public static JobView Of(Job job, IReadOnlyList<JobTransition> history, IReadOnlyList<JobSegment> segments, string jobPath)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(segments);
        var results = new Dictionary<string, string>(StringComparer.Ordinal);
        if (HasResults(job))
        {
            foreach (var name in JobResults.Names)
            {
                results[name] = $"{jobPath}/{name}";
            }
        }

        return new JobView(
            job.ToRecord(),
            history.Select(t => new JobViewTransition(t.Status, t.Time)).ToList(),
            TimingsOf(job, segments),
            results,
            segments.Count == 0 ? null : SegmentsView.Of(segments));
    }

    /// <summary>Whether a job's results exist: it is in Exit and did not fail.</summary>
    public static bool HasResults(Job job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return job.Status == JobStatus.Exit && job.Error is null;
    }

    // Each stage records its own duration on each segment it completes (JobStage.StageSecondsField), summed here: the
    // work it did for the job, which may exceed the job's wall time, since segments overlap. The waits come from the
    // record's times.
    private static Dictionary<string, double> TimingsOf(Job job, IReadOnlyList<JobSegment> segments)
    {
        var timings = new Dictionary<string, double>(StringComparer.Ordinal);
        var requests = new List<double>();
        foreach (var working in JobStateMachine.WorkingStatuses)
        {
            var done = segments
                .Select(segment => JobStage.RecordedSeconds(segment.Fields, JobStage.StageSecondsField(working)))
                .OfType<double>()
                .ToList();
            if (done.Count > 0)
            {
                timings[working.ToString()] = Math.Round(done.Sum(), 3);
                requests.AddRange(done);
            }
        }

        requests.AddRange(new[] { JobStage.RecordedSeconds(job.Fields, JobStage.CutSecondsField), JobStage.RecordedSeconds(job.Fields, JobStage.JoinSecondsField) }.OfType<double>());
        if (requests.Count > 0)
        {
            timings[LongestTiming] = Math.Round(requests.Max(), 3);
        }

        if (job.CreatedTime is { } created)
        {
            if (job.StartTime is { } started)
            {
                timings[QueuedTiming] = Math.Round((started - created).TotalSeconds, 3);
            }

            if (job.EndTime is { } ended)
            {
                timings[TotalTiming] = Math.Round((ended - created).TotalSeconds, 3);
            }
        }

        return timings;
    }
}

/// <summary>A job's segments: how many, how many have completed each stage (by its working status), and each one.</summary>
/// <param name="Total">How many segments the job was cut into.</param>
/// <param name="Done">Per stage (<c>Preprocessing</c>, <c>Inferencing</c>, <c>Postprocessing</c>), the segments it has completed.</param>
/// <param name="List">Each segment, in the video's order.</param>
public sealed record SegmentsView(int Total, IReadOnlyDictionary<string, int> Done, IReadOnlyList<SegmentView> List)
{
    /// <summary>The view of a job's segments.</summary>
    public static SegmentsView Of(IReadOnlyList<JobSegment> segments)
    {
        ArgumentNullException.ThrowIfNull(segments);
        var done = PipelineTopology.Stages.ToDictionary(
            stage => stage.Working.ToString(),
            stage => segments.Count(s => s.Status >= stage.Completes),
            StringComparer.Ordinal);
        return new SegmentsView(
            segments.Count,
            done,
            [.. segments.Select(s => new SegmentView(s.Index, s.Status, s.Start, s.Iteration, SegmentFields.FramesOf(s.Fields), s.Worker))]);
    }
}

/// <summary>One segment of a job: where it is, where it starts in the video (seconds), its failed attempts, its frames once read, and the process that last took it.</summary>
public sealed record SegmentView(int Index, JobStatus Status, double Start, int Iteration, int? Frames, string? Worker);

/// <summary>One status a job entered, and when.</summary>
public sealed record JobViewTransition(JobStatus Status, DateTimeOffset Time);

/// <summary>One page of the caller's jobs, newest first.</summary>
/// <param name="Jobs">The jobs on this page.</param>
/// <param name="Total">How many jobs the caller has in all.</param>
/// <param name="Offset">How many newer jobs come before this page.</param>
/// <param name="Limit">The page size asked for.</param>
/// <param name="Next">The URL path of the next page; null on the last.</param>
public sealed record JobList(IReadOnlyList<JobView> Jobs, long Total, int Offset, int Limit, string? Next);

/// <summary>A finished job's results as the API names them, each with the file it is stored as and its media type.</summary>
public static class JobResults
{
    /// <summary>The annotated MP4.</summary>
    public const string Video = "video";

    /// <summary>Every frame's detections (JSON).</summary>
    public const string Detections = "detections";

    /// <summary>Per-class counts, timings and the job record (JSON).</summary>
    public const string Summary = "summary";

    /// <summary>The results, in the order they are listed.</summary>
    public static IReadOnlyList<string> Names { get; } = [Video, Detections, Summary];

    /// <summary>The stored file (<see cref="JobArtifacts.ResultFiles"/>) of the result <paramref name="name"/>.</summary>
    public static string FileOf(string name) => name switch
    {
        Video => JobArtifacts.ResultFiles[0],
        Detections => JobArtifacts.ResultFiles[1],
        Summary => JobArtifacts.ResultFiles[2],
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, $"A job's results are {string.Join(", ", Names)}."),
    };

    /// <summary>The media type of the result <paramref name="name"/>.</summary>
    public static string ContentTypeOf(string name) => name == Video ? "video/mp4" : "application/json";
}

/// <summary>Source-generated JSON for the API's documents, shared by the gateway and its clients.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(JobView))]
[JsonSerializable(typeof(SegmentsView))]
[JsonSerializable(typeof(JobTimeline))]
[JsonSerializable(typeof(ClusterActivity))]
[JsonSerializable(typeof(EdgeCapacity))]
[JsonSerializable(typeof(JobList))]
[JsonSerializable(typeof(SessionRequest))]
[JsonSerializable(typeof(SessionView))]
public sealed partial class GatewayJsonContext : JsonSerializerContext;
