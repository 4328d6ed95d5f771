using System.Diagnostics;
using System.Globalization;
using CloudNative.CloudEvents;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Stages;

/// <summary>How far a stage has got with a job: frames done of the total (when known).</summary>
public readonly record struct StageProgress(long JobId, JobStatus Stage, int FramesDone, int FramesTotal);

/// <summary>Where stages report progress; the embedded command line prints it, the functions log it.</summary>
public interface IStageProgressSink
{
    /// <summary>Called as frames are done; must be cheap.</summary>
    void Report(StageProgress progress);
}

/// <summary>What one stage does for one job, between its claim and its completion.</summary>
public interface IStageWork
{
    /// <summary>Which stage of <see cref="PipelineTopology"/> this is: what it consumes, works in and completes, and its trigger.</summary>
    PipelineStage Stage { get; }

    /// <summary>Does the work; returns extra fields for the job record. Throws <see cref="UnprocessableInputException"/> for input that can never succeed.</summary>
    Task<IReadOnlyDictionary<string, string>> RunAsync(StageContext context, CancellationToken cancellationToken);
}

/// <summary>What a stage's work gets to know about its job.</summary>
public sealed record StageContext(Job Job, JobArtifacts Artifacts, IStageProgressSink Progress);

/// <summary>
/// Runs one stage the same way wherever it is hosted: on a <c>job status changed</c> event it claims the job with a
/// compare-and-set (a duplicated or late event changes nothing), keeps the lease alive while the work runs, records
/// the completion and replies with the next status event; the last stage of the pipeline also closes the job. A failed
/// attempt, a closing and a giving back go through <see cref="JobEnding"/>, which either re-queues the job (the reply
/// re-delivers it) or, at the iteration limit or for unprocessable input, ends it in <see cref="JobStatus.Exit"/> with
/// the reason. When its process is told to stop, it claims nothing new and gives back the job it cannot finish within
/// the grace (<see cref="StageShutdown"/>).
/// </summary>
public sealed partial class JobStage(
    IStageWork work,
    JobTable.JobTable jobs,
    JobEnding ending,
    IOptions<BucketOptions> buckets,
    IOptions<StageOptions> options,
    IStageProgressSink progress,
    StageShutdown shutdown,
    ILogger<JobStage> logger) : IEventSubscriber
{
    private readonly StageOptions _options = options.Value;
    private readonly PipelineStage _stage = work.Stage;

    /// <summary>The work this stage runs.</summary>
    public IStageWork Work => work;

    /// <inheritdoc />
    public async Task<CloudEvent?> HandleAsync(CloudEvent cloudEvent, CancellationToken cancellationToken)
    {
        var change = GEdgeEvents.ReadJobStatusChanged(cloudEvent);
        if (change.Status != _stage.Consumes)
        {
            LogWrongStatus(logger, change.JobId, change.Status, _stage.Consumes);
            return null;
        }

        if (!await jobs.TryClaimAsync(change.JobId, _stage.Working, _options.Lease).ConfigureAwait(false))
        {
            LogNotClaimed(logger, change.JobId, _stage.Working, _stage.Consumes);
            return null;
        }

        if (shutdown.IsStopping)
        {
            // Taking no work is claiming the job and giving it straight back: a refused delivery could be retried only
            // while nobody listens here, and then dead-lettered, which would end a healthy job.
            await ending.GiveBackAsync(change.JobId, _stage.Working, $"{_stage.Working} was not started: its process was stopping").ConfigureAwait(false);
            return null;
        }

        var job = await jobs.GetAsync(change.JobId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Job {change.JobId} vanished right after it was claimed.");
        LogMoved(logger, job.Id, _stage.Working);
        var artifacts = new JobArtifacts(buckets.Value, job.User, job.Id);
        var clock = Stopwatch.StartNew();
        // Fires when a renewal finds the job gone from this stage (cancelled by its user, or taken back by the sweeper):
        // the work in hand stops, since nothing it makes could be recorded.
        using var leaseLost = new CancellationTokenSource();
        try
        {
            IReadOnlyDictionary<string, string> fields;
            using (var renewing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            using (var working = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, shutdown.GivingBack, leaseLost.Token))
            {
                var renewal = RenewLeaseAsync(job.Id, leaseLost, renewing.Token);
                try
                {
                    fields = await work.RunAsync(new StageContext(job, artifacts, progress), working.Token).ConfigureAwait(false);
                }
                finally
                {
                    await renewing.CancelAsync().ConfigureAwait(false);
                    await renewal.ConfigureAwait(false);
                }
            }

            var completion = new Dictionary<string, string>(fields, StringComparer.Ordinal)
            {
                [StageSecondsField(_stage.Working)] = clock.Elapsed.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture),
            };
            if (!await jobs.TryTransitionAsync(job.Id, _stage.Working, _stage.Completes, completion).ConfigureAwait(false))
            {
                return await LostAsync(job).ConfigureAwait(false);
            }

            LogCompleted(logger, job.Id, _stage.Completes, clock.Elapsed.TotalSeconds);
            // The last stage also closes the job: its results are written, so the job is done.
            return _stage == PipelineTopology.Last
                ? await ending.CloseAsync(job).ConfigureAwait(false)
                : GEdgeEvents.CreateJobStatusChanged(job.Id, _stage.Completes, job.Iteration, _options.EventSource);
        }
        catch (OperationCanceledException) when (leaseLost.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return await LostAsync(job).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (shutdown.GivingBack.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            var reason = $"{_stage.Working} was stopped: its process was told to stop and the {_options.ShutdownGrace.TotalSeconds:0.#} s grace ran out";
            // A job that left this stage meanwhile (cancelled) is not given back but dropped, what it wrote removed.
            return await ending.GiveBackAsync(job.Id, _stage.Working, reason).ConfigureAwait(false) ? null : await LostAsync(job).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The delivery itself was called off. In a process told to stop (its sender stopping too, as when a whole
            // cluster stops) the job is given back, as after the grace: the stage was not at fault. Otherwise (a sender
            // that gave up waiting) the claim stays for the sweeper to take back as a failed attempt, so a stage that
            // never finishes in time ends its job at the iteration limit rather than being handed it again for ever.
            // Either way, a job that ended meanwhile (cancelled) loses what this attempt wrote.
            if (!shutdown.IsStopping
                || !await ending.GiveBackAsync(job.Id, _stage.Working, $"{_stage.Working} was stopped: its process was told to stop while the stage's request was called off").ConfigureAwait(false))
            {
                await ending.RemoveLeftoversAsync(job, CancellationToken.None).ConfigureAwait(false);
            }

            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A job that left this stage meanwhile (cancelled: its intermediates removed under the work, or taken back)
            // explains the failure; the attempt is dropped as lost, not reported as a fault of the stage.
            if (await jobs.GetAsync(job.Id).ConfigureAwait(false) is not { } current || current.Status != _stage.Working)
            {
                return await LostAsync(job).ConfigureAwait(false);
            }

            var permanent = e is UnprocessableInputException or InvalidObjectKeyException;
            var reason = $"{_stage.Working} failed: {e.Message}";
            if (permanent)
            {
                // The user's input, not the service, is at fault: one line with the reason, no stack trace.
                LogInputRejected(logger, job.Id, _stage.Working, e.Message);
            }
            else
            {
                LogAttemptFailed(logger, e, job.Id, _stage.Working);
            }

            var (outcome, announcement) = await ending.FailAttemptAsync(job, _stage.Working, reason, permanent).ConfigureAwait(false);
            if (outcome.Result == FailureResult.Retried && announcement is not null)
            {
                await BackOffAsync(job.Id, outcome.Job!.Iteration, cancellationToken).ConfigureAwait(false);
            }

            return announcement;
        }
    }

    /// <summary>The job-record field that holds a stage's duration in seconds (<c>preprocessing_seconds</c>).</summary>
    public static string StageSecondsField(JobStatus working) => $"{working.ToString().ToLowerInvariant()}_seconds";

    // Waits StageOptions.RetryDelay, doubled for each restart after the first, before the retry is announced; a process
    // told to stop, or a delivery called off, announces at once (the job is already back in its waiting status).
    private async Task BackOffAsync(long jobId, int iteration, CancellationToken cancellationToken)
    {
        var delay = _options.RetryDelay * Math.Pow(2, Math.Max(0, iteration - 1));
        if (delay <= TimeSpan.Zero || shutdown.IsStopping)
        {
            return;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, shutdown.GivingBack);
        LogBackingOff(logger, jobId, _stage.Consumes, delay.TotalSeconds);
        await Task.Delay(delay, stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    // The job left this stage while it worked (cancelled, or taken back): the attempt is dropped, and what it wrote is
    // removed if the job has ended.
    private async Task<CloudEvent?> LostAsync(Job job)
    {
        LogLostJob(logger, job.Id, _stage.Working);
        await ending.RemoveLeftoversAsync(job).ConfigureAwait(false);
        return null;
    }

    private async Task RenewLeaseAsync(long jobId, CancellationTokenSource leaseLost, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.LeaseRenewal);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                bool renewed;
                try
                {
                    renewed = await jobs.RenewLeaseAsync(jobId, _stage.Working, _options.Lease).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The job table is out of reach for longer than its retries: the work goes on, and so does the renewal.
                    // If the lease runs out meanwhile, the sweeper takes the job back and this attempt's result is not recorded.
                    LogRenewalFailed(logger, e, jobId, _stage.Working);
                    continue;
                }

                if (!renewed)
                {
                    LogLeaseLost(logger, jobId, _stage.Working);
                    await leaseLost.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The work finished; so does the renewal.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} event for {Status} ignored: this stage takes {Consumes}")]
    private static partial void LogWrongStatus(ILogger logger, long jobId, JobStatus status, JobStatus consumes);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} not claimed for {Working}: it is no longer in {Consumes} (a duplicate or late event)")]
    private static partial void LogNotClaimed(ILogger logger, long jobId, JobStatus working, JobStatus consumes);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} moved to {Status}")]
    private static partial void LogMoved(ILogger logger, long jobId, JobStatus status);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} announced in {Status} again in {Seconds} s (retry backoff)")]
    private static partial void LogBackingOff(ILogger logger, long jobId, JobStatus status, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} left {Working} while this stage worked on it (cancelled, or its lease expired and it was taken back); the attempt is dropped")]
    private static partial void LogLostJob(ILogger logger, long jobId, JobStatus working);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} moved to {Status} in {Seconds} s")]
    private static partial void LogCompleted(ILogger logger, long jobId, JobStatus status, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "{JobId} {Working} attempt failed")]
    private static partial void LogAttemptFailed(ILogger logger, Exception exception, long jobId, JobStatus working);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} {Working} rejected its input: {Reason}")]
    private static partial void LogInputRejected(ILogger logger, long jobId, JobStatus working, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} lease renewal in {Working} failed; trying again at the next renewal")]
    private static partial void LogRenewalFailed(ILogger logger, Exception exception, long jobId, JobStatus working);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} lease could not be renewed: the job left {Working}")]
    private static partial void LogLeaseLost(ILogger logger, long jobId, JobStatus working);
}
