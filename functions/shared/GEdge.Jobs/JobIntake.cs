using CloudEvents = CloudNative.CloudEvents;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Storage;
using GEdge.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Jobs;

/// <summary>
/// Turns a <c>video uploaded</c> event into a job (idempotently: one object, one job) and replies with the job's
/// <see cref="JobStatus.Enqueue"/> event, which starts Preprocess.
/// </summary>
public sealed partial class JobIntake(
    JobTable.JobTable jobs, IOptions<StageOptions> options, IOptions<BucketOptions> buckets, GEdgeMetrics metrics, ILogger<JobIntake> logger) : IEventSubscriber
{
    /// <inheritdoc />
    public async Task<CloudEvents.CloudEvent?> HandleAsync(CloudEvents.CloudEvent cloudEvent, CancellationToken cancellationToken)
    {
        var upload = GEdgeEvents.ReadVideoUploaded(cloudEvent);
        var creation = await CreateJobAsync(upload).ConfigureAwait(false);
        return AnnouncementOf(creation.Job);
    }

    /// <summary>
    /// The event that starts a job's processing: its <see cref="JobStatus.Enqueue"/> event, or null once the job has left
    /// Enqueue. A redelivered upload finds its job and announces it again only while nobody has taken it, since the
    /// first delivery may have created the job and died before its reply went out.
    /// </summary>
    public CloudEvents.CloudEvent? AnnouncementOf(Job job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return job.Status == JobStatus.Enqueue
            ? GEdgeEvents.CreateJobStatusChanged(job.Id, JobStatus.Enqueue, job.Iteration, options.Value.EventSource)
            : null;
    }

    /// <summary>
    /// Creates (or finds) the job for an uploaded object, after the checks the upload API makes: the object is in the
    /// uploads bucket (a result or an intermediate never starts a job), under the user's prefix, with a valid user name,
    /// and named as a video.
    /// </summary>
    public async Task<JobCreation> CreateJobAsync(VideoUploaded upload)
    {
        ArgumentNullException.ThrowIfNull(upload);
        ObjectKey.ValidateUser(upload.User);
        ObjectKey.ValidateBucket(upload.Bucket);
        ObjectKey.Validate(upload.Key);
        if (upload.Bucket != buckets.Value.Uploads)
        {
            throw new InvalidEventException($"The object '{upload.Bucket}/{upload.Key}' is not in the uploads bucket '{buckets.Value.Uploads}'; only uploads start jobs.");
        }

        if (!upload.Key.StartsWith(upload.User + "/", StringComparison.Ordinal))
        {
            throw new InvalidEventException($"The object '{upload.Key}' is not under user '{upload.User}''s prefix.");
        }

        if (!VideoFileTypes.IsVideo(upload.Key))
        {
            throw new InvalidEventException(
                $"The object '{upload.Key}' is not named as a video; the extensions taken are {string.Join(", ", VideoFileTypes.Extensions.Order(StringComparer.Ordinal))}.");
        }

        var type = Path.GetExtension(upload.Key).TrimStart('.').ToLowerInvariant();
        // The trace the job's events will carry (EventTracing stamps them from the current span), named on its record when
        // it is recorded, so the API and the dashboard can say where to find it.
        var traceId = System.Diagnostics.Activity.Current is { Recorded: true } span ? span.TraceId.ToHexString() : null;
        var creation = await jobs.CreateAsync(new NewJob(upload.User, $"{upload.Bucket}/{upload.Key}", type, upload.ETag, traceId)).ConfigureAwait(false);
        LogJob(logger, creation.Job.Id, upload.User, creation.Job.Path, creation.Created);
        if (creation.Created)
        {
            // Whichever way it came (the jobs API, a MinIO notification): a second notice of the same object is not a new upload.
            metrics.UploadAccepted();
        }

        return creation;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} for {User}'s {Path} (new: {Created})")]
    private static partial void LogJob(ILogger logger, long jobId, string user, string path, bool created);
}
