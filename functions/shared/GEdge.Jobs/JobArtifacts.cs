using System.Globalization;
using GEdge.JobTable;
using GEdge.Storage;

namespace GEdge.Jobs;

/// <summary>Bucket names, bound from configuration section <c>Storage:Buckets</c>.</summary>
public sealed record BucketOptions
{
    /// <summary>Where uploaded videos land, under <c>{user}/</c>.</summary>
    public string Uploads { get; init; } = "uploads";

    /// <summary>Where stages leave intermediates for each other, under <c>jobs/{id}/</c>; emptied when a job ends.</summary>
    public string Work { get; init; } = "work";

    /// <summary>Where results are kept, under <c>{user}/{id}/</c>.</summary>
    public string Results { get; init; } = "results";
}

/// <summary>
/// Where each artifact of a job lives. One place for the layout, so the stages that write an artifact and the
/// stages that read it cannot disagree.
/// </summary>
public sealed class JobArtifacts(BucketOptions buckets, string user, long jobId)
{
    /// <summary>The uploaded video of a job: its <c>path</c> field (<c>bucket/key</c>) split in two.</summary>
    public static (string Bucket, string Key) UploadOf(Job job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var slash = job.Path.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && slash < job.Path.Length - 1
            ? (job.Path[..slash], job.Path[(slash + 1)..])
            : throw new UnprocessableInputException($"The job's path '{job.Path}' is not 'bucket/key'.");
    }

    /// <summary>The bucket names.</summary>
    public BucketOptions Buckets { get; } = buckets;

    /// <summary>The job's id.</summary>
    public long JobId { get; } = jobId;

    private const string JobsFolder = "jobs/";

    /// <summary>Prefix of the job's intermediates in the work bucket.</summary>
    public string WorkPrefix { get; } = WorkPrefixOf(jobId);

    /// <summary>Prefix of job <paramref name="jobId"/>'s intermediates in the work bucket.</summary>
    public static string WorkPrefixOf(long jobId) => string.Create(CultureInfo.InvariantCulture, $"{JobsFolder}{jobId}/");

    /// <summary>The ids of the jobs that have intermediates in the work bucket, from a listing of it.</summary>
    public static async Task<IReadOnlyList<long>> JobsWithIntermediatesAsync(IObjectStore store, BucketOptions buckets, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(buckets);
        var ids = new SortedSet<long>();
        await foreach (var item in store.ListAsync(buckets.Work, JobsFolder, cancellationToken).ConfigureAwait(false))
        {
            var rest = item.Key.AsSpan(JobsFolder.Length);
            var slash = rest.IndexOf('/');
            if (slash > 0 && long.TryParse(rest[..slash], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                ids.Add(id);
            }
        }

        return [.. ids];
    }

    /// <summary>The cut's manifest: the source video's facts and its segments, written when the first stage cuts the job.</summary>
    public string SourceManifestKey => WorkPrefix + "source.json";

    /// <summary>Where segment <paramref name="index"/>'s intermediates live.</summary>
    public SegmentArtifacts Segment(int index) => new(this, index);

    /// <summary>Prefix of the job's results in the results bucket.</summary>
    public string ResultPrefix { get; } = string.Create(CultureInfo.InvariantCulture, $"{user}/{jobId}/");

    /// <summary>The file names of a finished job's results, in the order they are listed to a user.</summary>
    public static IReadOnlyList<string> ResultFiles { get; } = ["annotated.mp4", "detections.json", "summary.json"];

    /// <summary>The annotated video.</summary>
    public string AnnotatedVideoKey => ResultPrefix + ResultFiles[0];

    /// <summary>All detections, by frame.</summary>
    public string DetectionsKey => ResultPrefix + ResultFiles[1];

    /// <summary>Per-class counts, stage timings and the job record.</summary>
    public string SummaryKey => ResultPrefix + ResultFiles[2];

    /// <summary>The key of the result file named <paramref name="fileName"/>, one of <see cref="ResultFiles"/>.</summary>
    public string ResultKey(string fileName) =>
        ResultFiles.Contains(fileName, StringComparer.Ordinal)
            ? ResultPrefix + fileName
            : throw new ArgumentOutOfRangeException(nameof(fileName), fileName, $"A job's results are {string.Join(", ", ResultFiles)}.");
}

/// <summary>
/// Where each intermediate of one segment of a job lives, under <c>jobs/{id}/segments/{n}/</c>: the cut piece of video,
/// its model-ready frames, its detections and its annotated piece.
/// </summary>
public sealed class SegmentArtifacts
{
    internal SegmentArtifacts(JobArtifacts job, int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        Job = job;
        Index = index;
        Prefix = string.Create(CultureInfo.InvariantCulture, $"{job.WorkPrefix}segments/{index:D6}/");
    }

    /// <summary>The job's artifacts.</summary>
    public JobArtifacts Job { get; }

    /// <summary>The segment's number, from 0.</summary>
    public int Index { get; }

    /// <summary>The bucket names.</summary>
    public BucketOptions Buckets => Job.Buckets;

    /// <summary>Prefix of the segment's intermediates in the work bucket.</summary>
    public string Prefix { get; }

    /// <summary>The segment's piece of the upload: its video stream, cut at keyframes by stream copy.</summary>
    public string VideoKey => Prefix + "video.mp4";

    /// <summary>Preprocess's manifest of the segment: the source video's facts, letterbox, frame chunks.</summary>
    public string FrameManifestKey => Prefix + "frames.json";

    /// <summary>One chunk of the segment's model-ready frames, raw.</summary>
    public string FrameChunkKey(int chunk) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}frames/{chunk:D6}.raw");

    /// <summary>The segment's model-ready frames as one compact H.264 stream, the boundary's default encoding.</summary>
    public string FramesVideoKey => Prefix + "frames.h264";

    /// <summary>The segment's per-frame detections, one JSON line per frame, written by Infer; indexes count from the segment's first frame.</summary>
    public string FrameDetectionsKey => Prefix + "detections.jsonl";

    /// <summary>The segment's annotated piece, written by Postprocess and joined with the others into the result.</summary>
    public string AnnotatedVideoKey => Prefix + "annotated.mp4";
}
