using System.Globalization;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Jobs;

/// <summary>The job an upload started, and the upload's object key.</summary>
public sealed record JobSubmission(Job Job, string Bucket, string Key);

/// <summary>A job was made for an upload but the broker did not take its first event; the job has been ended with the reason.</summary>
public sealed class JobNotAnnouncedException(long jobId, Exception inner)
    : Exception($"Job {jobId} was created but the broker did not take its Enqueue event: {inner.Message}", inner)
{
    /// <summary>The job, now in Exit with the reason.</summary>
    public long JobId { get; } = jobId;
}

/// <summary>
/// The upload path of every host (the gateway's API, the embedded command line): stores a video under the user's
/// prefix as it streams in, makes its job through the intake, and publishes the job's Enqueue event to the broker,
/// since an upload is not a delivery anyone replies to. The upload is noted in the job table before its first byte is
/// stored and the note cleared once its job exists, so what a process that dies in between stored (a gateway pod killed,
/// its node lost) is found and removed by the sweeper (<see cref="StuckJobSweeper"/>) instead of staying with no job
/// pointing at it.
/// </summary>
public sealed partial class JobSubmissions(
    JobTable.JobTable jobs,
    IObjectStore store,
    JobIntake intake,
    JobEnding ending,
    IEventPublisher publisher,
    IOptions<BucketOptions> buckets,
    TimeProvider time,
    ILogger<JobSubmissions> logger)
{
    /// <summary>
    /// Stores the video <paramref name="writeVideo"/> writes as <paramref name="user"/>'s <paramref name="fileName"/>
    /// (under a key made by <see cref="ObjectKey.ForUpload"/>, so a hostile name stays in the user's prefix), starts its
    /// job and returns it. Throws <see cref="InvalidObjectKeyException"/> for a user name that cannot be a prefix, and
    /// <see cref="JobNotAnnouncedException"/> when the broker refuses the job's first event.
    /// </summary>
    public async Task<JobSubmission> SubmitAsync(string user, string fileName, Func<Stream, CancellationToken, Task> writeVideo, CancellationToken cancellationToken)
    {
        ObjectKey.ValidateUser(user);
        ArgumentNullException.ThrowIfNull(writeVideo);
        var bucket = buckets.Value.Uploads;
        var key = ObjectKey.ForUpload(user, NewUploadId(), fileName);
        await jobs.BeginUploadAsync(bucket, key).ConfigureAwait(false);
        JobCreation creation;
        ObjectInfo stored;
        try
        {
            stored = await store.WriteAsync(bucket, key, writeVideo, cancellationToken).ConfigureAwait(false);
            creation = await intake.CreateJobAsync(new VideoUploaded(user, bucket, key, stored.ETag, stored.Size)).ConfigureAwait(false);
        }
        catch
        {
            // No job points at the stored body (if it was stored): remove it, so an upload that did not become a job
            // leaves nothing behind.
            await store.DeleteAsync(bucket, key, CancellationToken.None).ConfigureAwait(false);
            await jobs.EndUploadAsync(bucket, key).ConfigureAwait(false);
            throw;
        }

        await jobs.EndUploadAsync(bucket, key).ConfigureAwait(false);

        var job = creation.Job;
        if (intake.AnnouncementOf(job) is { } enqueued)
        {
            try
            {
                await publisher.PublishAsync(enqueued, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Unannounced, the job would wait in Enqueue forever and the user would upload again: end it, say why. Its
                // Exit cannot be announced either (the broker is what failed), and nobody waits for it.
                await ending.EndWithErrorAsync(job, $"The job could not be announced to the broker: {e.Message}").ConfigureAwait(false);
                throw new JobNotAnnouncedException(job.Id, e);
            }
        }

        LogSubmitted(logger, job.Id, user, bucket, key, stored.Size);
        return new JobSubmission(job, bucket, key);
    }

    // Unique per upload and sortable by time, so a user's uploads list in the order they came.
    private string NewUploadId() => string.Create(
        CultureInfo.InvariantCulture, $"{time.GetUtcNow():yyyyMMddTHHmmss}-{Guid.NewGuid().ToString("N")[..8]}");

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} submitted by {User}: {Bucket}/{Key}, {Bytes} bytes")]
    private static partial void LogSubmitted(ILogger logger, long jobId, string user, string bucket, string key, long bytes);
}
