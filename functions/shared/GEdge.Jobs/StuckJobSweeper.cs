using System.Globalization;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Storage;
using GEdge.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Jobs;

/// <summary>
/// Takes back jobs and segments whose working stage has gone quiet: a stage renews its lease while it works, so a lease
/// that ran out means the worker died or was evicted. The attempt is failed (<c>iteration</c> + 1) and the job or segment
/// announced again from the status its stage consumes, or, at the iteration limit, the job ended in
/// <see cref="JobStatus.Exit"/> with the reason and its intermediates removed. It also announces again what has waited
/// too long for a stage (an event lost for good): a job to cut, a segment, a job to join. A job its stage gave back (told to stop) is re-queued the same way, without counting
/// an attempt. And it removes uploads that never became jobs (<see cref="SweeperOptions.AbandonedUploadAfter"/>): what a
/// submitting process stored before it died, which no job points at. Driven by a PingSource in the cluster (the gateway's <c>/events/sweep</c>), by <c>gedge serve</c> posting
/// there in the local cluster, and by <see cref="StuckJobSweepTimer"/> in the embedded host.
/// </summary>
public sealed partial class StuckJobSweeper(
    JobTable.JobTable jobs,
    IObjectStore store,
    JobEnding ending,
    IEventPublisher publisher,
    IOptions<StageOptions> options,
    IOptions<SweeperOptions> sweeper,
    TimeProvider time,
    GEdgeMetrics metrics,
    ILogger<StuckJobSweeper> logger)
{
    /// <summary>The most jobs one sweep takes back; the next sweep takes the rest.</summary>
    public const int BatchSize = 100;

    // The statuses a job that is not yet cut, or is waiting to be joined, waits in; and every status a job cut into
    // segments can be in while some segment of it waits for its next stage.
    private static readonly JobStatus[] s_open = [.. JobStateMachine.Statuses.Where(status => !JobStateMachine.IsTerminal(status))];

    // The statuses a segment waits in for a stage's event.
    private static readonly HashSet<JobStatus> s_segmentWaiting = [.. PipelineTopology.Stages.Select(stage => stage.Consumes)];

    /// <summary>
    /// Takes back every job whose lease has run out, and re-announces jobs that have waited for their next stage longer
    /// than <see cref="SweeperOptions.ResendAfter"/>; returns how many were taken back or re-announced.
    /// </summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var taken = await TakeBackExpiredAsync(cancellationToken).ConfigureAwait(false);
        taken += await ResendWaitingAsync(cancellationToken).ConfigureAwait(false);
        return taken + await RemoveAbandonedUploadsAsync(cancellationToken).ConfigureAwait(false);
    }

    // Uploads noted as underway (JobSubmissions) long after they began: the process storing them died before making their
    // job, so nothing points at them. The object goes, with any unfinished write of it (the upload's key is its own
    // prefix: a fresh folder per upload), then the note. One whose job was made after all (the note's clearing was what
    // failed) keeps its object, and only the note goes.
    private async Task<int> RemoveAbandonedUploadsAsync(CancellationToken cancellationToken)
    {
        var removed = 0;
        foreach (var (bucket, key) in await jobs.ListUploadsUnderwayAsync(time.GetUtcNow() - sweeper.Value.AbandonedUploadAfter, BatchSize).ConfigureAwait(false))
        {
            if (await store.StatAsync(bucket, key, cancellationToken).ConfigureAwait(false) is { } stored
                && await jobs.FindByUploadAsync($"{bucket}/{key}", stored.ETag).ConfigureAwait(false) is not null)
            {
                await jobs.EndUploadAsync(bucket, key).ConfigureAwait(false);
                continue;
            }

            await store.DeleteAsync(bucket, key, cancellationToken).ConfigureAwait(false);
            await store.DeleteUnfinishedAsync(bucket, key, cancellationToken).ConfigureAwait(false);
            await jobs.EndUploadAsync(bucket, key).ConfigureAwait(false);
            LogAbandonedUpload(logger, bucket, key, sweeper.Value.AbandonedUploadAfter);
            removed++;
        }

        return removed;
    }

    private async Task<int> TakeBackExpiredAsync(CancellationToken cancellationToken)
    {
        var taken = await TakeBackExpiredSegmentsAsync(cancellationToken).ConfigureAwait(false);
        foreach (var job in await jobs.ListExpiredLeasesAsync(time.GetUtcNow(), BatchSize).ConfigureAwait(false))
        {
            var deadline = job.LeaseDeadline?.ToString("O", CultureInfo.InvariantCulture) ?? "an unknown time";
            var reason = job.GivenBack is { } givenBack
                ? $"{job.Status} given back by its stage: {givenBack}"
                : $"{job.Status} stopped: its lease ran out at {deadline} with no word from the stage (its worker died or was evicted)";
            if (await TakeBackAsync(job, reason, cancellationToken).ConfigureAwait(false) != FailureResult.NotInStatus)
            {
                taken++;
            }
        }

        return taken;
    }

    private async Task<int> TakeBackExpiredSegmentsAsync(CancellationToken cancellationToken)
    {
        var taken = 0;
        foreach (var (jobId, segment) in await jobs.ListExpiredSegmentLeasesAsync(time.GetUtcNow(), BatchSize).ConfigureAwait(false))
        {
            if (await jobs.GetAsync(jobId).ConfigureAwait(false) is not { } job)
            {
                continue;
            }

            var deadline = segment.LeaseDeadline?.ToString("O", CultureInfo.InvariantCulture) ?? "an unknown time";
            var reason = segment.GivenBack is { } givenBack
                ? $"segment {segment.Index}: {segment.Status} given back by its stage: {givenBack}"
                : $"segment {segment.Index}: {segment.Status} stopped: its lease ran out at {deadline} with no word from the stage (its worker died or was evicted)";
            if (await TakeBackSegmentAsync(job, segment.Index, segment.Status, reason, cancellationToken).ConfigureAwait(false) != FailureResult.NotInStatus)
            {
                taken++;
            }
        }

        return taken;
    }

    // A job waits in Enqueue or a *_complete status until the event that names it reaches the next stage. Events are
    // delivered at least once, but one can still be lost for good: a dead-letter sink that was down itself, a broker
    // restarted with its in-memory queue. Announcing such a job again is safe (the stage claims it by compare-and-set, so
    // a second delivery of a live event changes nothing); a job its last stage finished but did not close is closed.
    private async Task<int> ResendWaitingAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var resent = 0;
        foreach (var status in s_open)
        {
            // Lowest ids first. The index does not order by when a job entered its status (a retried job re-enters it
            // late), so every listed job's own last move is read from its history.
            foreach (var job in await jobs.ListByStatusAsync(status, BatchSize).ConfigureAwait(false))
            {
                if (job.Segments is not null && status != PipelineTopology.Last.Completes)
                {
                    resent += await ResendWaitingSegmentsAsync(job, now, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (status != PipelineTopology.First.Consumes && status != PipelineTopology.Last.Completes)
                {
                    continue;
                }

                var history = await jobs.GetHistoryAsync(job.Id).ConfigureAwait(false);
                if (history.Count == 0 || history[^1].Status != status || now - history[^1].Time < sweeper.Value.ResendAfter)
                {
                    continue;
                }

                // Waiting to be cut, or (every segment done) to be joined: its event is sent again.
                LogResent(logger, job.Id, status, now - history[^1].Time);
                await publisher.PublishAsync(
                    GEdgeEvents.CreateJobStatusChanged(job.Id, status, job.Iteration, options.Value.EventSource), cancellationToken).ConfigureAwait(false);
                resent++;
            }
        }

        return resent;
    }

    private async Task<int> ResendWaitingSegmentsAsync(Job job, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var resent = 0;
        foreach (var segment in await jobs.GetSegmentsAsync(job.Id).ConfigureAwait(false))
        {
            if (!s_segmentWaiting.Contains(segment.Status) || segment.Since is not { } since || now - since < sweeper.Value.ResendAfter)
            {
                continue;
            }

            LogSegmentResent(logger, job.Id, segment.Index, segment.Status, now - since);
            await publisher.PublishAsync(
                GEdgeEvents.CreateSegmentStatusChanged(job.Id, segment.Index, segment.Status, segment.Iteration, options.Value.EventSource), cancellationToken).ConfigureAwait(false);
            resent++;
        }

        return resent;
    }

    /// <summary>
    /// Fails the attempt of the stage working on <paramref name="job"/> and announces the job again, or ends it at the
    /// iteration limit. Nothing happens if the job has left that working status meanwhile (compare-and-set).
    /// </summary>
    public async Task<FailureResult> TakeBackAsync(Job job, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var (outcome, announcement) = await ending.FailAttemptAsync(job, job.Status, reason).ConfigureAwait(false);
        CountTakeBack(outcome.Result, job.Status);
        switch (outcome.Result)
        {
            case FailureResult.Retried or FailureResult.Requeued:
                LogTakenBack(logger, job.Id, job.Status, JobStateMachine.ConsumedBy(job.Status), outcome.Job!.Iteration, reason);
                break;
            case FailureResult.Exited:
                LogEnded(logger, job.Id, job.Status, reason);
                break;
        }

        if (announcement is not null)
        {
            await publisher.PublishAsync(announcement, cancellationToken).ConfigureAwait(false);
        }

        return outcome.Result;
    }

    /// <summary>
    /// Fails the attempt of the stage working on segment <paramref name="segment"/> of <paramref name="job"/> and
    /// announces the segment again, or ends the job at the iteration limit. Nothing happens if the segment has left
    /// <paramref name="working"/> meanwhile (compare-and-set).
    /// </summary>
    public async Task<FailureResult> TakeBackSegmentAsync(Job job, int segment, JobStatus working, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var (outcome, announcement) = await ending.FailSegmentAttemptAsync(job, segment, working, reason).ConfigureAwait(false);
        CountTakeBack(outcome.Result, working);
        switch (outcome.Result)
        {
            case FailureResult.Retried or FailureResult.Requeued:
                LogSegmentTakenBack(logger, job.Id, segment, working, JobStateMachine.ConsumedBy(working), outcome.SegmentIteration, reason);
                break;
            case FailureResult.Exited:
                LogEnded(logger, job.Id, working, reason);
                break;
        }

        if (announcement is not null)
        {
            await publisher.PublishAsync(announcement, cancellationToken).ConfigureAwait(false);
        }

        return outcome.Result;
    }

    // A lease that ran out is a take-back (sent back, or the job ended at the limit); re-queuing what a stage gave back is
    // not: the stage counted its give-back.
    private void CountTakeBack(FailureResult result, JobStatus working)
    {
        if (result is FailureResult.Retried or FailureResult.Exited)
        {
            metrics.TakenBack(working);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} segment {Segment} taken back from {Working} to {Consumed} (segment iteration {Iteration}): {Reason}")]
    private static partial void LogSegmentTakenBack(ILogger logger, long jobId, int segment, JobStatus working, JobStatus consumed, int iteration, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} segment {Segment} announced again: it has waited in {Status} for {Waited} with no stage taking it")]
    private static partial void LogSegmentResent(ILogger logger, long jobId, int segment, JobStatus status, TimeSpan waited);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} taken back from {Working} to {Consumed} (iteration {Iteration}): {Reason}")]
    private static partial void LogTakenBack(ILogger logger, long jobId, JobStatus working, JobStatus consumed, int iteration, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} announced again: it has waited in {Status} for {Waited} with no stage taking it")]
    private static partial void LogResent(ILogger logger, long jobId, JobStatus status, TimeSpan waited);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The upload {Bucket}/{Key} did not become a job within {After} (the process storing it died); it is removed")]
    private static partial void LogAbandonedUpload(ILogger logger, string bucket, string key, TimeSpan after);

    [LoggerMessage(Level = LogLevel.Error, Message = "{JobId} ended in Exit from {Working} at the iteration limit: {Reason}")]
    private static partial void LogEnded(ILogger logger, long jobId, JobStatus working, string reason);
}

/// <summary>What a sweep answers: how many jobs it took back.</summary>
public sealed record SweepResult(int TakenBack);
