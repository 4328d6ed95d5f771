using CloudNative.CloudEvents;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Jobs;

/// <summary>
/// Every way a job's attempt or the job itself ends, in one place: its last stage completed, an attempt failed (retried,
/// or at the limit the job ends), the job cancelled or ended with a reason, a stage giving a job back. Each is a
/// compare-and-set on the job table, so a late or repeated call changes nothing; a job that ends has its intermediates
/// removed. What it returns is the event that announces the change: the stage runner replies with it (the Knative reply
/// pattern), everyone else publishes it. Nothing else in G-Edge ends a job.
/// </summary>
public sealed partial class JobEnding(
    JobTable.JobTable jobs,
    ArtifactRemoval removal,
    IOptions<BucketOptions> buckets,
    IOptions<StageOptions> options,
    ILogger<JobEnding> logger)
{
    /// <summary>The error a job cancelled by its user ends with: through the API, or Ctrl+C on <c>gedge run</c>.</summary>
    public const string CancelledReason = "cancelled by the user";

    /// <summary>
    /// Closes a job whose last stage has completed (its results are written): it moves from the last stage's completed
    /// status to <see cref="JobStatus.Exit"/>. Returns the Exit announcement, or null when the job was not there.
    /// </summary>
    public async Task<CloudEvent?> CloseAsync(Job job, IReadOnlyDictionary<string, string>? fields = null)
    {
        ArgumentNullException.ThrowIfNull(job);
        return await jobs.TryTransitionAsync(job.Id, PipelineTopology.Last.Completes, JobStatus.Exit, fields).ConfigureAwait(false)
            ? await EndedAsync(job).ConfigureAwait(false)
            : null;
    }

    /// <summary>
    /// Fails the attempt of the stage working on segment <paramref name="segment"/> of <paramref name="job"/>, as
    /// <see cref="FailAttemptAsync"/> does a job's: below the limit the segment is announced again from the status its
    /// stage consumes; at the limit, or when <paramref name="permanent"/>, the job ends with <paramref name="reason"/>.
    /// </summary>
    public async Task<(SegmentFailureOutcome Outcome, CloudEvent? Announcement)> FailSegmentAttemptAsync(
        Job job, int segment, JobStatus working, string reason, bool permanent = false)
    {
        ArgumentNullException.ThrowIfNull(job);
        var outcome = await jobs.FailSegmentAttemptAsync(job.Id, segment, working, reason, permanent).ConfigureAwait(false);
        var announcement = outcome.Result switch
        {
            FailureResult.Retried or FailureResult.Requeued => GEdgeEvents.CreateSegmentStatusChanged(
                job.Id, segment, JobStateMachine.ConsumedBy(working), outcome.SegmentIteration, options.Value.EventSource),
            FailureResult.Exited => await EndedAsync(outcome.Job!).ConfigureAwait(false),
            _ => null,
        };
        return (outcome, announcement);
    }

    /// <summary>
    /// Fails an attempt at joining <paramref name="job"/>'s results (it waits in the last stage's completion): below the
    /// limit the job stays there and is announced again; at the limit, or when <paramref name="permanent"/>, it ends with
    /// <paramref name="reason"/>.
    /// </summary>
    public async Task<(FailureOutcome Outcome, CloudEvent? Announcement)> FailJoinAsync(Job job, string reason, bool permanent = false)
    {
        ArgumentNullException.ThrowIfNull(job);
        var outcome = await jobs.FailWaitingAttemptAsync(job.Id, PipelineTopology.Last.Completes, reason, permanent).ConfigureAwait(false);
        var announcement = outcome.Result switch
        {
            FailureResult.Retried => GEdgeEvents.CreateJobStatusChanged(job.Id, PipelineTopology.Last.Completes, outcome.Job!.Iteration, options.Value.EventSource),
            FailureResult.Exited => await EndedAsync(outcome.Job!).ConfigureAwait(false),
            _ => null,
        };
        return (outcome, announcement);
    }

    /// <summary>Gives segment <paramref name="segment"/> back from <paramref name="working"/>, as <see cref="GiveBackAsync"/> does a job.</summary>
    public Task<bool> GiveBackSegmentAsync(long jobId, int segment, JobStatus working, string reason) =>
        jobs.GiveBackSegmentAsync(jobId, segment, working, reason);

    /// <summary>
    /// Fails the attempt of the stage working on <paramref name="job"/> in <paramref name="working"/>: below the iteration
    /// limit the job goes back to the status its stage consumes, announced again; at the limit, or when
    /// <paramref name="permanent"/> (input no retry can fix), it ends with <paramref name="reason"/>. A job its stage
    /// gave back is re-queued without counting an attempt.
    /// </summary>
    public async Task<(FailureOutcome Outcome, CloudEvent? Announcement)> FailAttemptAsync(Job job, JobStatus working, string reason, bool permanent = false)
    {
        ArgumentNullException.ThrowIfNull(job);
        var outcome = await jobs.FailAttemptAsync(job.Id, working, reason, permanent).ConfigureAwait(false);
        var announcement = outcome.Result switch
        {
            FailureResult.Retried or FailureResult.Requeued =>
                GEdgeEvents.CreateJobStatusChanged(job.Id, JobStateMachine.ConsumedBy(working), outcome.Job!.Iteration, options.Value.EventSource),
            FailureResult.Exited => await EndedAsync(outcome.Job!).ConfigureAwait(false),
            _ => null,
        };
        return (outcome, announcement);
    }

    /// <summary>
    /// Ends a job that has not ended, with <paramref name="reason"/> as its error (only from <paramref name="from"/> when
    /// given). Returns the Exit announcement, or null when the job had ended, or left <paramref name="from"/>, meanwhile.
    /// </summary>
    public async Task<CloudEvent?> EndWithErrorAsync(Job job, string reason, JobStatus? from = null)
    {
        ArgumentNullException.ThrowIfNull(job);
        return await jobs.ExitWithErrorAsync(job.Id, reason, from).ConfigureAwait(false)
            ? await EndedAsync(job).ConfigureAwait(false)
            : null;
    }

    /// <summary>Cancels a job for its user: <see cref="EndWithErrorAsync"/> with <see cref="CancelledReason"/>.</summary>
    public Task<CloudEvent?> CancelAsync(Job job) => EndWithErrorAsync(job, CancelledReason);

    /// <summary>
    /// Gives a job back from <paramref name="working"/> without counting an attempt (its process is stopping): the lease
    /// is cut short, so the next sweep re-queues it. False when the job had left that status.
    /// </summary>
    public Task<bool> GiveBackAsync(long jobId, JobStatus working, string reason) => jobs.GiveBackAsync(jobId, working, reason);

    /// <summary>
    /// For a stage whose job left it while it worked: if the job has ended (cancelled), what the work wrote meanwhile
    /// (<paramref name="written"/>, the attempt's own record, and whatever the manifests name now) is removed, as the
    /// ending removed what was there before; a job taken back for another attempt keeps its inputs, and the attempt
    /// working on it now may be writing the same keys.
    /// </summary>
    public async Task RemoveLeftoversAsync(Job job, WrittenKeys written, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(written);
        if (await jobs.GetAsync(job.Id).ConfigureAwait(false) is { Status: JobStatus.Exit })
        {
            await TryRemoveIntermediatesAsync(job, written.Keys, cancellationToken).ConfigureAwait(false);
        }
    }

    // The job has just moved to Exit, by this caller's compare-and-set: its intermediates go, and the Exit is announced.
    private async Task<CloudEvent> EndedAsync(Job job)
    {
        if (await TryRemoveIntermediatesAsync(job, alsoWritten: null, CancellationToken.None).ConfigureAwait(false) is { } removed)
        {
            LogEnded(logger, job.Id, removed.Named, removed.Unnamed);
        }

        return GEdgeEvents.CreateJobStatusChanged(job.Id, JobStatus.Exit, job.Iteration, options.Value.EventSource);
    }

    // A removal that fails (the store unreachable) is logged and counted by the removal; the job has ended all the same,
    // so its Exit is still announced rather than lost with the exception.
    private async Task<ArtifactsRemoved?> TryRemoveIntermediatesAsync(Job job, IReadOnlyList<string>? alsoWritten, CancellationToken cancellationToken)
    {
        try
        {
            return await removal.RemoveIntermediatesAsync(new JobArtifacts(buckets.Value, job.User, job.Id), alsoWritten, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} moved to Exit; its intermediates removed ({Named} keys its manifests name deleted, {Unnamed} more found by listing)")]
    private static partial void LogEnded(ILogger logger, long jobId, int named, int unnamed);
}
