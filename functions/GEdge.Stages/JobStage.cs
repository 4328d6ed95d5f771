using System.Diagnostics;
using System.Globalization;
using CloudNative.CloudEvents;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Stages;

/// <summary>Options every stage shares, bound from configuration section <c>Stages</c>.</summary>
public sealed record StageOptions
{
    /// <summary>How long a claim holds the job before the sweeper may take it back.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How often a working stage renews its lease; well inside <see cref="Lease"/>.</summary>
    public TimeSpan LeaseRenewal { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The source attribute of the events this process sends (its Knative Service's address).</summary>
    public Uri EventSource { get; init; } = new("/gedge", UriKind.Relative);

    /// <summary>
    /// How long a stage told to stop (SIGTERM) may go on with the job in hand before it gives the job back; less than the
    /// host's shutdown timeout (30 s by default) and than the 20 s <c>gedge</c> gives a command to end after SIGTERM, so the
    /// giving back happens before either gives up.
    /// </summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(15);
}

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
    /// <summary>The status this stage takes jobs from (its Trigger's filter).</summary>
    JobStatus Consumes { get; }

    /// <summary>The status a job has while this stage works on it.</summary>
    JobStatus Working { get; }

    /// <summary>The status a job has when this stage is done with it.</summary>
    JobStatus Completes { get; }

    /// <summary>Does the work; returns extra fields for the job record. Throws <see cref="UnprocessableInputException"/> for input that can never succeed.</summary>
    Task<IReadOnlyDictionary<string, string>> RunAsync(StageContext context, CancellationToken cancellationToken);
}

/// <summary>What a stage's work gets to know about its job.</summary>
public sealed record StageContext(Job Job, JobArtifacts Artifacts, IStageProgressSink Progress);

/// <summary>Input that no retry will fix (not a video, an unsupported codec): the job ends at once, with this reason.</summary>
public sealed class UnprocessableInputException(string reason, Exception? inner = null) : Exception(reason, inner);

/// <summary>
/// Runs one stage the same way wherever it is hosted: on a <c>job status changed</c> event it claims the job with a
/// compare-and-set (a duplicated or late event changes nothing), keeps the lease alive while the work runs, records
/// the completion and replies with the next status event. A failed attempt goes back to the job table, which either
/// re-queues the job (the reply re-delivers it) or, at the iteration limit or for unprocessable input, ends it in
/// <see cref="JobStatus.Exit"/> with the reason; then the job's intermediates are removed. When its process is told to
/// stop, it claims nothing new and gives back the job it cannot finish within the grace (<see cref="StageShutdown"/>).
/// </summary>
public sealed partial class JobStage(
    IStageWork work,
    JobTable.JobTable jobs,
    IObjectStore store,
    IOptions<BucketOptions> buckets,
    IOptions<StageOptions> options,
    IStageProgressSink progress,
    StageShutdown shutdown,
    ILogger<JobStage> logger) : IEventSubscriber
{
    private readonly StageOptions _options = options.Value;

    /// <summary>The work this stage runs.</summary>
    public IStageWork Work => work;

    /// <inheritdoc />
    public async Task<CloudEvent?> HandleAsync(CloudEvent cloudEvent, CancellationToken cancellationToken)
    {
        var change = GEdgeEvents.ReadJobStatusChanged(cloudEvent);
        if (change.Status != work.Consumes)
        {
            LogWrongStatus(logger, change.JobId, change.Status, work.Consumes);
            return null;
        }

        if (!await jobs.TryClaimAsync(change.JobId, work.Working, _options.Lease).ConfigureAwait(false))
        {
            LogNotClaimed(logger, change.JobId, work.Working, work.Consumes);
            return null;
        }

        if (shutdown.IsStopping)
        {
            // Taking no work is claiming the job and giving it straight back: a refused delivery could be retried only
            // while nobody listens here, and then dead-lettered, which would end a healthy job.
            await jobs.GiveBackAsync(change.JobId, work.Working, $"{work.Working} was not started: its process was stopping").ConfigureAwait(false);
            return null;
        }

        var job = await jobs.GetAsync(change.JobId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Job {change.JobId} vanished right after it was claimed.");
        LogMoved(logger, job.Id, work.Working);
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
                [StageSecondsField(work.Working)] = clock.Elapsed.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture),
            };
            if (!await jobs.TryTransitionAsync(job.Id, work.Working, work.Completes, completion).ConfigureAwait(false))
            {
                return await LostAsync(job.Id, artifacts).ConfigureAwait(false);
            }

            LogCompleted(logger, job.Id, work.Completes, clock.Elapsed.TotalSeconds);
            return await ReplyAsync(job.Id, work.Completes, job.Iteration, artifacts).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (leaseLost.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return await LostAsync(job.Id, artifacts).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (shutdown.GivingBack.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            var reason = $"{work.Working} was stopped: its process was told to stop and the {_options.ShutdownGrace.TotalSeconds:0.#} s grace ran out";
            await jobs.GiveBackAsync(job.Id, work.Working, reason).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var permanent = e is UnprocessableInputException or InvalidObjectKeyException;
            var reason = $"{work.Working} failed: {e.Message}";
            if (permanent)
            {
                // The user's input, not the service, is at fault: one line with the reason, no stack trace.
                LogInputRejected(logger, job.Id, work.Working, e.Message);
            }
            else
            {
                LogAttemptFailed(logger, e, job.Id, work.Working);
            }

            var outcome = await jobs.FailAttemptAsync(job.Id, work.Working, reason, permanent).ConfigureAwait(false);
            return outcome.Result switch
            {
                FailureResult.Retried => GEdgeEvents.CreateJobStatusChanged(job.Id, work.Consumes, outcome.Job!.Iteration, _options.EventSource),
                FailureResult.Exited => await EndAsync(job.Id, outcome.Job!.Iteration, artifacts).ConfigureAwait(false),
                _ => null,
            };
        }
    }

    /// <summary>The job-record field that holds a stage's duration in seconds (<c>preprocessing_seconds</c>).</summary>
    public static string StageSecondsField(JobStatus working) => $"{working.ToString().ToLowerInvariant()}_seconds";

    private async Task<CloudEvent> ReplyAsync(long jobId, JobStatus completed, int iteration, JobArtifacts artifacts)
    {
        if (completed != JobStatus.Postprocessing_complete)
        {
            return GEdgeEvents.CreateJobStatusChanged(jobId, completed, iteration, _options.EventSource);
        }

        // The last stage also closes the job: its results are written, so the job is done.
        await jobs.TryTransitionAsync(jobId, JobStatus.Postprocessing_complete, JobStatus.Exit).ConfigureAwait(false);
        return await EndAsync(jobId, iteration, artifacts).ConfigureAwait(false);
    }

    private async Task<CloudEvent> EndAsync(long jobId, int iteration, JobArtifacts artifacts)
    {
        var removed = await artifacts.DeleteIntermediatesAsync(store).ConfigureAwait(false);
        LogEnded(logger, jobId, removed);
        return GEdgeEvents.CreateJobStatusChanged(jobId, JobStatus.Exit, iteration, _options.EventSource);
    }

    // The job left this stage while it worked. If it has ended (cancelled), what the work wrote meanwhile is removed, as
    // the canceller removed what was there before; a job taken back for another attempt keeps its inputs.
    private async Task<CloudEvent?> LostAsync(long jobId, JobArtifacts artifacts)
    {
        LogLostJob(logger, jobId, work.Working);
        if (await jobs.GetAsync(jobId).ConfigureAwait(false) is { Status: JobStatus.Exit })
        {
            await artifacts.DeleteIntermediatesAsync(store).ConfigureAwait(false);
        }

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
                    renewed = await jobs.RenewLeaseAsync(jobId, work.Working, _options.Lease).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The job table is out of reach for longer than its retries: the work goes on, and so does the renewal.
                    // If the lease runs out meanwhile, the sweeper takes the job back and this attempt's result is not recorded.
                    LogRenewalFailed(logger, e, jobId, work.Working);
                    continue;
                }

                if (!renewed)
                {
                    LogLeaseLost(logger, jobId, work.Working);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} left {Working} while this stage worked on it (cancelled, or its lease expired and it was taken back); the attempt is dropped")]
    private static partial void LogLostJob(ILogger logger, long jobId, JobStatus working);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} moved to {Status} in {Seconds} s")]
    private static partial void LogCompleted(ILogger logger, long jobId, JobStatus status, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "{JobId} {Working} attempt failed")]
    private static partial void LogAttemptFailed(ILogger logger, Exception exception, long jobId, JobStatus working);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} {Working} rejected its input: {Reason}")]
    private static partial void LogInputRejected(ILogger logger, long jobId, JobStatus working, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} moved to Exit; {Removed} intermediates removed")]
    private static partial void LogEnded(ILogger logger, long jobId, int removed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} lease renewal in {Working} failed; trying again at the next renewal")]
    private static partial void LogRenewalFailed(ILogger logger, Exception exception, long jobId, JobStatus working);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} lease could not be renewed: the job left {Working}")]
    private static partial void LogLeaseLost(ILogger logger, long jobId, JobStatus working);
}
