using GEdge.Contracts;

namespace GEdge.JobTable;

/// <summary>The field names of a job hash: the eight of the contract, then the job table's own extras.</summary>
public static class JobFields
{
    /// <summary>The job's number, from an atomic counter.</summary>
    public const string Id = "id";

    /// <summary>Who sent the request.</summary>
    public const string User = "user";

    /// <summary>Where the uploaded video is stored (bucket and key).</summary>
    public const string Path = "path";

    /// <summary>The video's file extension.</summary>
    public const string Type = "type";

    /// <summary>One of the eight <see cref="JobStatus"/> names.</summary>
    public const string Status = "status";

    /// <summary>When processing started (UTC, ISO 8601); empty until the job leaves <see cref="JobStatus.Enqueue"/>.</summary>
    public const string StartTime = "start_time";

    /// <summary>When processing finished (UTC, ISO 8601); empty until the job reaches <see cref="JobStatus.Exit"/>.</summary>
    public const string EndTime = "end_time";

    /// <summary>How many attempts failed; at the limit the job has failed.</summary>
    public const string Iteration = "iteration";

    /// <summary>The uploaded object's version (ETag) that, with the path, makes submissions idempotent.</summary>
    public const string ObjectVersion = "object_version";

    /// <summary>When the job was created (UTC, ISO 8601).</summary>
    public const string CreatedTime = "created_time";

    /// <summary>Why the job ended in <see cref="JobStatus.Exit"/> without finishing; absent on success.</summary>
    public const string Error = "error";

    /// <summary>The reason the most recent attempt failed.</summary>
    public const string LastError = "last_error";

    /// <summary>When the lease of the stage working on the job runs out (UTC, ISO 8601); present only in a working status.</summary>
    public const string LeaseDeadline = "lease_deadline";

    /// <summary>
    /// Why the stage working on the job gave it back (it was told to stop): its lease was ended early, and the next sweep
    /// returns the job to the status the stage consumes without counting an attempt. Present only until then.
    /// </summary>
    public const string GivenBack = "given_back";

    /// <summary>
    /// The last change made to the job: the caller's change id and the script's answer (<c>id|code</c>). A call retried
    /// after its reply was lost finds its own change here and gets the first attempt's answer instead of "not in status".
    /// </summary>
    public const string LastChange = "last_change";

    /// <summary>How many segments the job was cut into; absent until the first stage has cut it.</summary>
    public const string Segments = "segments";

    /// <summary>The model the job's frames are prepared for: an extra field the first stage records as it cuts the job.</summary>
    public const string Model = "model";

    /// <summary>The eight fields every job hash carries, in contract order.</summary>
    public static IReadOnlyList<string> Contract { get; } = [Id, User, Path, Type, Status, StartTime, EndTime, Iteration];

    /// <summary>The W3C trace id of the job's trace (32 hex digits), when its upload was traced; set once, at creation.</summary>
    public const string TraceId = "trace_id";

    private static readonly HashSet<string> s_reserved =
        [.. Contract, ObjectVersion, CreatedTime, Error, LastError, LeaseDeadline, GivenBack, LastChange, Segments, TraceId];

    /// <summary>Whether the job table owns the field, so callers may not set it as an extra field.</summary>
    public static bool IsReserved(string name) => s_reserved.Contains(name);
}

/// <summary>
/// The fields of one segment in its job's segments hash, each under the segment's number (<c>3.status</c>): the job's
/// own names where they mean the same (status, iteration, lease_deadline, given_back, last_error, last_change), and these.
/// </summary>
public static class SegmentFields
{
    /// <summary>When the segment entered its status (UTC, ISO 8601).</summary>
    public const string Since = "since";

    /// <summary>Where the segment starts in the video, in seconds (the time of its first frame).</summary>
    public const string Start = "start";

    /// <summary>The process that last claimed the segment (<c>host/pid</c>).</summary>
    public const string Worker = "worker";

    /// <summary>
    /// How many frames the segment has: recorded by the stages (Preprocess first), not owned by the job table. Read by
    /// Postprocess, the jobs API (a segment's detections) and the stages' frame counts.
    /// </summary>
    public const string Frames = "frames";

    private static readonly HashSet<string> s_reserved =
        [JobFields.Status, JobFields.Iteration, JobFields.LeaseDeadline, JobFields.GivenBack, JobFields.LastError, JobFields.LastChange, Since, Start, Worker];

    /// <summary>The segment's <see cref="Frames"/> as recorded in <paramref name="fields"/>; null when none is.</summary>
    public static int? FramesOf(IReadOnlyDictionary<string, string> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        return fields.TryGetValue(Frames, out var text) && int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var frames)
            ? frames
            : null;
    }

    /// <summary>Whether the job table owns the segment field, so callers may not set it as an extra field.</summary>
    public static bool IsReserved(string name) => s_reserved.Contains(name);
}
