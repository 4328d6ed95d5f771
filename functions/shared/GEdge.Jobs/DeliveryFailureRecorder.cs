using System.Buffers.Text;
using System.Text;
using CloudNative.CloudEvents;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Storage;
using GEdge.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Jobs;

/// <summary>What <see cref="DeliveryFailureRecorder"/> did with a dead-lettered event.</summary>
public enum DeliveryFailureOutcome
{
    /// <summary>The job was still waiting for the stage that could not be reached: it ended in <see cref="JobStatus.Exit"/> with the reason.</summary>
    JobEnded,

    /// <summary>The job had been claimed and its lease had run out: the attempt was failed, and the job re-announced (or ended at the iteration limit).</summary>
    AttemptFailed,

    /// <summary>A stage holds the job under a lease that is still running: it is left to that stage.</summary>
    LeftToTheStage,

    /// <summary>The job had already moved past the announced status, or ended: a late copy of an event that was delivered after all.</summary>
    AlreadyMovedOn,

    /// <summary>No job to record on: an upload that never became a job, a job that does not exist, or a warm-up (a lost one changes nothing).</summary>
    NoJob,
}

/// <summary>
/// The dead-letter sink's handler. A Knative Broker sends an event here once its Trigger's retries are spent; without
/// this, a job whose status event never reached its stage would wait in that status forever. The job table's
/// compare-and-set decides, so a late or duplicated dead letter changes nothing: a job still in the announced status
/// ends in <see cref="JobStatus.Exit"/> with the delivery failure as its error; a job claimed under a lapsed lease has
/// the attempt failed (re-announced, or ended at the iteration limit); anything else is left as it is.
/// It never replies (a Broker drops a dead-letter sink's reply), so what it announces it publishes.
/// </summary>
public sealed partial class DeliveryFailureRecorder(
    JobTable.JobTable jobs,
    JobEnding ending,
    IEventPublisher publisher,
    StuckJobSweeper sweeper,
    TimeProvider time,
    GEdgeMetrics metrics,
    ILogger<DeliveryFailureRecorder> logger) : IEventSubscriber
{
    // The job's error field is for people; the first part of the subscriber's answer says what happened.
    private const int MaxErrorDataChars = 300;

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <inheritdoc />
    public async Task<CloudEvent?> HandleAsync(CloudEvent cloudEvent, CancellationToken cancellationToken)
    {
        await RecordAsync(cloudEvent, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>Records the failed delivery of <paramref name="deadLetter"/> on its job, as the type summary says.</summary>
    public async Task<DeliveryFailureOutcome> RecordAsync(CloudEvent deadLetter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deadLetter);
        metrics.DeadLettered(Enum.TryParse<JobStatus>(deadLetter[GEdgeEvents.JobStatusAttribute] as string, out var announced) ? announced : null);
        var failure = DescribeFailure(deadLetter);
        if (deadLetter.Type == GEdgeEvents.StageWarmupType)
        {
            // A warm-up that never arrived costs a cold start, nothing more: the job's own events carry on.
            var warmup = GEdgeEvents.ReadStageWarmup(deadLetter);
            LogWarmupLost(logger, warmup.JobId, warmup.Stage, failure);
            return DeliveryFailureOutcome.NoJob;
        }

        if (deadLetter.Type == GEdgeEvents.VideoUploadedType)
        {
            var upload = GEdgeEvents.ReadVideoUploaded(deadLetter);
            LogUploadLost(logger, upload.Bucket, upload.Key, upload.User, failure);
            return DeliveryFailureOutcome.NoJob;
        }

        if (deadLetter.Type == GEdgeEvents.SegmentStatusChangedType)
        {
            return await RecordSegmentAsync(GEdgeEvents.ReadSegmentStatusChanged(deadLetter), failure, cancellationToken).ConfigureAwait(false);
        }

        var change = GEdgeEvents.ReadJobStatusChanged(deadLetter);
        var job = await jobs.GetAsync(change.JobId).ConfigureAwait(false);
        if (job is null)
        {
            LogNoSuchJob(logger, change.JobId, failure);
            return DeliveryFailureOutcome.NoJob;
        }

        var reason = $"The {change.Status} event could not be delivered: {failure}";
        if (job.Status == change.Status && !JobStateMachine.IsTerminal(job.Status))
        {
            // Nobody claimed the job and the broker has given up, so nobody ever will.
            if (await ending.EndWithErrorAsync(job, reason, change.Status).ConfigureAwait(false) is not { } exit)
            {
                return DeliveryFailureOutcome.AlreadyMovedOn;
            }

            LogEnded(logger, job.Id, change.Status, failure);
            await publisher.PublishAsync(exit, cancellationToken).ConfigureAwait(false);
            return DeliveryFailureOutcome.JobEnded;
        }

        if (JobStateMachine.IsWorking(job.Status) && JobStateMachine.ConsumedBy(job.Status) == change.Status)
        {
            // The stage claimed the job and then went quiet. While its lease runs it may still be working (a delivery
            // that timed out at the broker keeps running); once the lease lapses, nobody is.
            if (job.LeaseDeadline is { } deadline && deadline > time.GetUtcNow())
            {
                LogLeftToTheStage(logger, job.Id, job.Status, deadline, failure);
                return DeliveryFailureOutcome.LeftToTheStage;
            }

            return await sweeper.TakeBackAsync(job, reason, cancellationToken).ConfigureAwait(false) == FailureResult.NotInStatus
                ? DeliveryFailureOutcome.AlreadyMovedOn
                : DeliveryFailureOutcome.AttemptFailed;
        }

        LogMovedOn(logger, job.Id, change.Status, job.Status);
        return DeliveryFailureOutcome.AlreadyMovedOn;
    }

    // As for a job's event, for one of its segments: a segment nobody claimed ends the job (nobody ever will claim it);
    // one whose stage claimed it and went quiet is taken back once its lease has lapsed.
    private async Task<DeliveryFailureOutcome> RecordSegmentAsync(SegmentStatusChanged change, string failure, CancellationToken cancellationToken)
    {
        var job = await jobs.GetAsync(change.JobId).ConfigureAwait(false);
        if (job is null)
        {
            LogNoSuchJob(logger, change.JobId, failure);
            return DeliveryFailureOutcome.NoJob;
        }

        var segment = (await jobs.GetSegmentsAsync(job.Id).ConfigureAwait(false)).ElementAtOrDefault(change.Segment);
        if (segment is null || JobStateMachine.IsTerminal(job.Status))
        {
            LogMovedOn(logger, job.Id, change.Status, job.Status);
            return DeliveryFailureOutcome.AlreadyMovedOn;
        }

        var reason = $"segment {change.Segment}: the {change.Status} event could not be delivered: {failure}";
        if (segment.Status == change.Status)
        {
            if (await ending.EndWithErrorAsync(job, reason).ConfigureAwait(false) is not { } exit)
            {
                return DeliveryFailureOutcome.AlreadyMovedOn;
            }

            LogEnded(logger, job.Id, change.Status, failure);
            await publisher.PublishAsync(exit, cancellationToken).ConfigureAwait(false);
            return DeliveryFailureOutcome.JobEnded;
        }

        if (JobStateMachine.IsWorking(segment.Status) && JobStateMachine.ConsumedBy(segment.Status) == change.Status)
        {
            if (segment.LeaseDeadline is { } deadline && deadline > time.GetUtcNow())
            {
                LogLeftToTheStage(logger, job.Id, segment.Status, deadline, failure);
                return DeliveryFailureOutcome.LeftToTheStage;
            }

            return await sweeper.TakeBackSegmentAsync(job, segment.Index, segment.Status, reason, cancellationToken).ConfigureAwait(false) == FailureResult.NotInStatus
                ? DeliveryFailureOutcome.AlreadyMovedOn
                : DeliveryFailureOutcome.AttemptFailed;
        }

        LogMovedOn(logger, job.Id, change.Status, segment.Status);
        return DeliveryFailureOutcome.AlreadyMovedOn;
    }

    /// <summary>
    /// The failure as one line, from the event's <see cref="DeadLetterAttributes"/>: where the delivery went, the last status
    /// code and the start of the answer (which Knative sends base64-encoded; an attribute that is not is taken as it is).
    /// </summary>
    public static string DescribeFailure(CloudEvent deadLetter)
    {
        ArgumentNullException.ThrowIfNull(deadLetter);
        // By name: a dead letter read off the wire carries these as extensions of its own making, not as the same instances.
        var destination = deadLetter[DeadLetterAttributes.ErrorDestination.Name]?.ToString() ?? "an unknown destination";
        var code = deadLetter[DeadLetterAttributes.ErrorCode.Name]?.ToString();
        var data = deadLetter[DeadLetterAttributes.ErrorData.Name]?.ToString();
        var description = new StringBuilder("delivery to ").Append(destination).Append(" failed");
        description.Append(code is null ? " (no status code)" : $" with HTTP {code}");
        if (!string.IsNullOrWhiteSpace(data))
        {
            var text = ErrorText(data).ReplaceLineEndings(" ").Trim();
            description.Append(": ").Append(text.Length > MaxErrorDataChars ? string.Concat(text.AsSpan(0, MaxErrorDataChars), "…") : text);
        }

        return description.ToString();
    }

    // Knative base64-encodes the answer (Go's standard encoding: no whitespace). Plain text can look like base64 too, but
    // then it decodes to bytes that are not UTF-8, and is kept as it came.
    private static string ErrorText(string data)
    {
        if (!data.AsSpan().ContainsAny(" \t\r\n") && Base64.IsValid(data))
        {
            try
            {
                return s_strictUtf8.GetString(Convert.FromBase64String(data));
            }
            catch (DecoderFallbackException)
            {
                // Not text once decoded: it was not base64 after all.
            }
        }

        return data;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Bucket}/{Key} uploaded by {User} never became a job: {Failure}")]
    private static partial void LogUploadLost(ILogger logger, string bucket, string key, string user, string failure);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} the warm-up of {Stage} was not delivered; nothing to record: {Failure}")]
    private static partial void LogWarmupLost(ILogger logger, long jobId, string stage, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} has no record; its dead letter is dropped: {Failure}")]
    private static partial void LogNoSuchJob(ILogger logger, long jobId, string failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "{JobId} moved to Exit: its {Status} event was dead-lettered: {Failure}")]
    private static partial void LogEnded(ILogger logger, long jobId, JobStatus status, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} is in {Working} under a lease until {Deadline}; left to its stage although a delivery failed: {Failure}")]
    private static partial void LogLeftToTheStage(ILogger logger, long jobId, JobStatus working, DateTimeOffset deadline, string failure);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} dead letter for {Status} ignored: the job is already in {Current}")]
    private static partial void LogMovedOn(ILogger logger, long jobId, JobStatus status, JobStatus current);
}
