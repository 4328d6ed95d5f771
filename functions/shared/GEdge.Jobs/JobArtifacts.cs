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

    /// <summary>The preprocess manifest: source video facts, letterbox, frame chunks.</summary>
    public string FrameManifestKey => WorkPrefix + "frames.json";

    /// <summary>One chunk of model-ready frames.</summary>
    public string FrameChunkKey(int chunk) => string.Create(CultureInfo.InvariantCulture, $"{WorkPrefix}frames/{chunk:D6}.raw");

    /// <summary>The per-frame detections, one JSON line per frame, written by Infer.</summary>
    public string FrameDetectionsKey => WorkPrefix + "detections.jsonl";

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

    /// <summary>
    /// Removes the job's intermediates (everything under <see cref="WorkPrefix"/>): what every way a job ends does, done,
    /// failed, cancelled or swept. Returns how many objects were removed.
    /// </summary>
    public Task<int> DeleteIntermediatesAsync(IObjectStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.DeletePrefixAsync(Buckets.Work, WorkPrefix, cancellationToken);
    }

    /// <summary>The key of the result file named <paramref name="fileName"/>, one of <see cref="ResultFiles"/>.</summary>
    public string ResultKey(string fileName) =>
        ResultFiles.Contains(fileName, StringComparer.Ordinal)
            ? ResultPrefix + fileName
            : throw new ArgumentOutOfRangeException(nameof(fileName), fileName, $"A job's results are {string.Join(", ", ResultFiles)}.");
}
