using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Gateway;

/// <summary>What <see cref="JobRemoval.RemoveAsync"/> did.</summary>
public enum JobRemovalResult
{
    /// <summary>The job had not ended: it was ended as cancelled, and its intermediates removed.</summary>
    Cancelled,

    /// <summary>The job had ended: it and every object it had (upload, intermediates, results) are gone.</summary>
    Deleted,

    /// <summary>The job ended on its own between being read and being cancelled; nothing was changed.</summary>
    EndedMeanwhile,
}

/// <summary>
/// <c>DELETE /api/jobs/{id}</c>: cancels a job that has not ended, or deletes one that has. Cancelling is
/// <see cref="JobEnding.CancelAsync"/>: the job ends in Exit with <see cref="JobEnding.CancelledReason"/> (a
/// compare-and-set, so a stage still at work loses its claim and stops at its next lease renewal or move), its
/// intermediates are removed and its Exit announced. Deleting removes its objects first and its record last, so
/// a failure part-way leaves a job that can be deleted again, never objects that nothing points to.
/// </summary>
public sealed partial class JobRemoval(
    JobTable.JobTable jobs,
    JobEnding ending,
    IEventPublisher publisher,
    IObjectStore store,
    ArtifactRemoval artifactRemoval,
    IOptions<BucketOptions> buckets,
    ILogger<JobRemoval> logger)
{
    /// <summary>Cancels or deletes <paramref name="job"/>, as its status decides.</summary>
    public async Task<JobRemovalResult> RemoveAsync(Job job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var artifacts = new JobArtifacts(buckets.Value, job.User, job.Id);
        if (job.Status != JobStatus.Exit)
        {
            // A compare-and-set on "not ended": a job that finished meanwhile keeps its results; the caller asked to
            // stop it, not to delete what it made.
            if (await ending.CancelAsync(job).ConfigureAwait(false) is not { } exit)
            {
                return JobRemovalResult.EndedMeanwhile;
            }

            await publisher.PublishAsync(exit, cancellationToken).ConfigureAwait(false);
            LogCancelled(logger, job.Id, job.User);
            return JobRemovalResult.Cancelled;
        }

        var (uploadBucket, uploadKey) = JobArtifacts.UploadOf(job);
        await store.DeleteAsync(uploadBucket, uploadKey, cancellationToken).ConfigureAwait(false);
        await artifactRemoval.RemoveIntermediatesAsync(artifacts, cancellationToken: cancellationToken).ConfigureAwait(false);
        await artifactRemoval.RemoveResultsAsync(artifacts, cancellationToken).ConfigureAwait(false);
        if (!await jobs.DeleteAsync(job.Id).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"Job {job.Id} was in Exit and is no longer: a job never leaves Exit.");
        }

        LogDeleted(logger, job.Id, job.User);
        return JobRemovalResult.Deleted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} cancelled by {User}")]
    private static partial void LogCancelled(ILogger logger, long jobId, string user);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} and its objects deleted by {User}")]
    private static partial void LogDeleted(ILogger logger, long jobId, string user);
}
