using System.Diagnostics;
using System.Globalization;
using CloudNative.CloudEvents;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Metrics;
using GEdge.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Stages;

/// <summary>
/// Runs one stage the same way wherever it is hosted. On a <c>segment status changed</c> event it claims the segment with
/// a compare-and-set (a duplicated or late event changes nothing), keeps the segment's lease alive while the work runs,
/// records the completion and replies with the segment's next event; the first stage also cuts an enqueued job into
/// segments (on the job's event, under the job's own lease), and the last joins the results once every segment is done
/// and closes the job. A failed attempt, a closing and a giving back go through <see cref="JobEnding"/>, which either
/// re-queues the segment (the reply re-delivers it) or, at the iteration limit or for unprocessable input, ends the job in
/// <see cref="JobStatus.Exit"/> with the reason. When its process is told to stop, it claims nothing new and gives back
/// what it cannot finish within the grace (<see cref="StageShutdown"/>).
/// </summary>
public sealed partial class JobStage(
    IStageWork work,
    JobTable.JobTable jobs,
    JobEnding ending,
    Lazy<IEventPublisher> publisher,
    IOptions<BucketOptions> buckets,
    IOptions<StageOptions> options,
    IStageProgressSink progress,
    StageShutdown shutdown,
    GEdgeMetrics metrics,
    ILogger<JobStage> logger) : IEventSubscriber
{
    private readonly StageOptions _options = options.Value;
    private readonly PipelineStage _stage = work.Stage;
    private readonly StageMetrics _counts = metrics.ForStage(work.Stage);

    // The first stage cuts, the last joins: a work that is either must say how.
    private readonly ICutWork? _cut = work.Stage == PipelineTopology.First
        ? work as ICutWork ?? throw new ArgumentException($"The first stage's work ({work.GetType().Name}) must cut jobs into segments ({nameof(ICutWork)}).", nameof(work))
        : null;

    private readonly IJoinWork? _join = work.Stage == PipelineTopology.Last
        ? work as IJoinWork ?? throw new ArgumentException($"The last stage's work ({work.GetType().Name}) must join segments' results ({nameof(IJoinWork)}).", nameof(work))
        : null;

    /// <summary>The work this stage runs.</summary>
    public IStageWork Work => work;

    // For the attempts below, which cannot see the primary constructor's parameters.
    private JobTable.JobTable Jobs => jobs;

    private JobEnding Ending => ending;

    /// <summary>
    /// The stages' activities: one span per event a stage handles (<c>preprocess segment</c>, <c>preprocess cut</c>,
    /// <c>postprocess join</c>, ...), a child of the span that published the event (<see cref="EventTracing"/>), so a
    /// job is one trace across processes; the events it sends on carry it in turn. Tagged as OpenTelemetry's semantic
    /// conventions tag CloudEvents (<c>cloudevents.event_id</c>, <c>cloudevents.event_type</c>) and with the job, the
    /// segment, the stage, the model and, once done, the segment's frames (<c>gedge.*</c>); an attempt that fails is marked
    /// as an error with its reason.
    /// </summary>
    public static readonly ActivitySource Activities = new("GEdge.Stages");

    /// <inheritdoc />
    public async Task<CloudEvent?> HandleAsync(CloudEvent cloudEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        if (cloudEvent.Type == GEdgeEvents.StageWarmupType)
        {
            // The delivery reached a process whose subscribers are built (this stage among them; Infer's model loaded):
            // answering it is the warm-up. It reads and writes nothing, so a duplicate, a late one or one for a job
            // cancelled meanwhile changes nothing.
            var warmup = GEdgeEvents.ReadStageWarmup(cloudEvent);
            LogWarm(logger, warmup.JobId, _stage.Name);
            return null;
        }

        if (cloudEvent.Type == GEdgeEvents.SegmentStatusChangedType)
        {
            var change = GEdgeEvents.ReadSegmentStatusChanged(cloudEvent);
            if (change.Status != _stage.Consumes)
            {
                LogWrongStatus(logger, change.JobId, change.Status, _stage.Consumes);
                return null;
            }

            using var span = StartSpan("segment", cloudEvent, change.JobId, change.Segment);
            return await Traced(span, RunSegmentAsync(change.JobId, change.Segment, cloudEvent.Time, cancellationToken)).ConfigureAwait(false);
        }

        var jobChange = GEdgeEvents.ReadJobStatusChanged(cloudEvent);
        if (_cut is not null && jobChange.Status == _stage.Consumes)
        {
            using var span = StartSpan("cut", cloudEvent, jobChange.JobId, segment: null);
            return await Traced(span, CutAsync(_cut, jobChange.JobId, cancellationToken)).ConfigureAwait(false);
        }

        if (_join is not null && jobChange.Status == _stage.Completes)
        {
            using var span = StartSpan("join", cloudEvent, jobChange.JobId, segment: null);
            return await Traced(span, JoinAsync(_join, jobChange.JobId, cancellationToken)).ConfigureAwait(false);
        }

        LogWrongStatus(logger, jobChange.JobId, jobChange.Status, _stage.Consumes);
        return null;
    }

    private Activity? StartSpan(string what, CloudEvent cloudEvent, long jobId, int? segment)
    {
        // A consumer of the event: its parent is the span that made it; without one, whatever is current here.
        var span = Activities.StartActivity($"{_stage.Name} {what}", ActivityKind.Consumer, EventTracing.ContextOf(cloudEvent) ?? default);
        if (span is not null)
        {
            span.SetTag("cloudevents.event_id", cloudEvent.Id);
            span.SetTag("cloudevents.event_type", cloudEvent.Type);
            span.SetTag("gedge.stage", _stage.Name);
            span.SetTag("gedge.job.id", jobId);
            if (segment is { } number)
            {
                span.SetTag("gedge.segment", number);
            }
        }

        return span;
    }

    // A failed attempt is an error on its span, which says whether the input was at fault (no retry) or the attempt (the
    // retry's span, started by the event this attempt re-announces, is its child).
    private static void MarkFailed(string reason, bool permanent)
    {
        if (Activity.Current is { } span && span.Source == Activities)
        {
            span.SetStatus(ActivityStatusCode.Error, reason);
            span.SetTag("gedge.failure", permanent ? "input" : "attempt");
        }
    }

    // Tags the stage's own span, whatever else is current.
    private static void TagSpan(string key, object? value)
    {
        if (Activity.Current is { } span && span.Source == Activities)
        {
            span.SetTag(key, value);
        }
    }

    // The reply is what the span's work produced; a failure that escapes marks the span as an error.
    private static async Task<CloudEvent?> Traced(Activity? span, Task<CloudEvent?> work)
    {
        try
        {
            var reply = await work.ConfigureAwait(false);
            if (span is not null && reply is not null)
            {
                span.SetTag("gedge.reply", reply[GEdgeEvents.JobStatusAttribute] as string);
            }

            return reply;
        }
        catch (Exception e) when (span is not null)
        {
            span.SetStatus(ActivityStatusCode.Error, e.Message);
            throw;
        }
    }

    /// <summary>The field of a segment (or, summed, of a job) that holds a stage's duration in seconds (<c>preprocessing_seconds</c>).</summary>
    public static string StageSecondsField(JobStatus working) => $"{working.ToString().ToLowerInvariant()}_seconds";

    /// <summary>The job's field that holds the cut's duration in seconds.</summary>
    public const string CutSecondsField = "cut_seconds";

    /// <summary>The job's field that holds the join's duration in seconds.</summary>
    public const string JoinSecondsField = "join_seconds";

    /// <summary>
    /// The duration a stage recorded in <paramref name="field"/> of a job's or segment's <paramref name="fields"/>
    /// (<see cref="StageSecondsField"/>, <see cref="CutSecondsField"/>, <see cref="JoinSecondsField"/>); null when none is.
    /// </summary>
    public static double? RecordedSeconds(IReadOnlyDictionary<string, string> fields, string field)
    {
        ArgumentNullException.ThrowIfNull(fields);
        return fields.TryGetValue(field, out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
            ? seconds
            : null;
    }

    // sent: when the event that made the segment ready for this stage was sent, for the queue wait.
    private async Task<CloudEvent?> RunSegmentAsync(long jobId, int index, DateTimeOffset? sent, CancellationToken cancellationToken)
    {
        if (!(await jobs.TryClaimSegmentAsync(jobId, index, _stage.Working, StageWorker.Current, _options.Lease).ConfigureAwait(false)).Moved)
        {
            LogNotClaimed(logger, jobId, index, _stage.Working, _stage.Consumes);
            return null;
        }

        using var inFlight = _counts.Claimed(sent, DateTimeOffset.UtcNow);

        var attempt = new SegmentAttempt(this, jobId, index);
        if (shutdown.IsStopping)
        {
            // Taking no work is claiming the segment and giving it straight back: a refused delivery could be retried
            // only while nobody listens here, and then dead-lettered, which would end a healthy job.
            await attempt.GiveBackAsync($"{_stage.Working} was not started: its process was stopping").ConfigureAwait(false);
            return null;
        }

        var job = await jobs.GetAsync(jobId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Job {jobId} vanished right after its segment {index} was claimed.");
        var segment = (await jobs.GetSegmentsAsync(jobId).ConfigureAwait(false)).ElementAtOrDefault(index)
            ?? throw new InvalidOperationException($"Segment {index} of job {jobId} vanished right after it was claimed.");
        attempt.Job = job;
        TagSpan("gedge.model", job.Fields.GetValueOrDefault(JobFields.Model));
        if (_cut is null && index == 0 && segment.Iteration == 0)
        {
            // A stage's first work on a job (the first stage's is the cut) tells the next stage the job is coming.
            WarmNextStage(jobId);
        }

        LogMoved(logger, jobId, index, _stage.Working);
        var artifacts = Artifacts(job).Segment(index);
        return await RunAttemptAsync(
            attempt,
            token => work.RunAsync(new StageContext(job, segment, artifacts, new SegmentProgress(progress, index, job.Segments ?? 0)) { Written = attempt.Written }, token),
            async (fields, elapsed) =>
            {
                var recorded = new Dictionary<string, string>(fields, StringComparer.Ordinal) { [StageSecondsField(_stage.Working)] = Seconds(elapsed) };
                var move = await jobs.TryCompleteSegmentAsync(jobId, index, _stage.Working, StageWorker.Current, recorded).ConfigureAwait(false);
                if (!move.Moved)
                {
                    return (false, null);
                }

                LogCompleted(logger, jobId, index, _stage.Completes, elapsed.TotalSeconds);
                var frames = SegmentFields.FramesOf(recorded) ?? SegmentFields.FramesOf(segment.Fields);
                _counts.Completed(elapsed, frames);
                TagSpan("gedge.frames", frames);
                if (_stage != PipelineTopology.Last)
                {
                    return (true, GEdgeEvents.CreateSegmentStatusChanged(jobId, index, _stage.Completes, segment.Iteration, _options.EventSource));
                }

                // The last segment done moves the job to the last completion, whose event starts the join; no stage takes
                // the other segments' completions, so they are not announced.
                return (true, move.JobMoved ? GEdgeEvents.CreateJobStatusChanged(jobId, _stage.Completes, job.Iteration, _options.EventSource) : null);
            },
            cancellationToken).ConfigureAwait(false);
    }

    // The cut runs under the job's own lease, as a stage ran on a whole job before segments: claimed from the status the
    // first stage consumes, recorded by cutting the job into segments (which ends that lease), each then announced.
    private async Task<CloudEvent?> CutAsync(ICutWork cut, long jobId, CancellationToken cancellationToken)
    {
        if (!await jobs.TryClaimAsync(jobId, _stage.Working, _options.Lease).ConfigureAwait(false))
        {
            LogJobNotClaimed(logger, jobId, _stage.Working, _stage.Consumes);
            return null;
        }

        var attempt = new JobAttempt(this, jobId);
        if (shutdown.IsStopping)
        {
            await attempt.GiveBackAsync($"{_stage.Working} was not started: its process was stopping").ConfigureAwait(false);
            return null;
        }

        WarmNextStage(jobId);

        var job = await jobs.GetAsync(jobId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Job {jobId} vanished right after it was claimed.");
        attempt.Job = job;
        LogCutting(logger, jobId);
        return await RunAttemptAsync(
            attempt,
            token => cut.CutAsync(new JobContext(job, [], Artifacts(job), progress) { Written = attempt.Written }, token),
            async (result, elapsed) =>
            {
                var fields = new Dictionary<string, string>(result.Fields, StringComparer.Ordinal) { [CutSecondsField] = Seconds(elapsed) };
                if (!await jobs.SplitAsync(jobId, result.SegmentStarts, fields).ConfigureAwait(false))
                {
                    return (false, null);
                }

                LogCut(logger, jobId, result.SegmentStarts.Count, elapsed.TotalSeconds);
                metrics.Cut(elapsed);
                // One reply goes back to the broker; the other segments are published. One that does not get out now is
                // announced by the sweeper once it has waited too long, as any lost event is.
                for (var index = 1; index < result.SegmentStarts.Count; index++)
                {
                    try
                    {
                        await publisher.Value.PublishAsync(GEdgeEvents.CreateSegmentStatusChanged(jobId, index, _stage.Consumes, 0, _options.EventSource), cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        LogAnnouncementFailed(logger, e, jobId, index);
                        break;
                    }
                }

                return (true, GEdgeEvents.CreateSegmentStatusChanged(jobId, 0, _stage.Consumes, 0, _options.EventSource));
            },
            cancellationToken).ConfigureAwait(false);
    }

    // The join runs on a job whose every segment is done, under a lock with a lease rather than a status of its own:
    // nothing in the job table changes until the close, a compare-and-set; a join whose process dies is announced again
    // by the sweeper once its lock has lapsed, and joining twice writes the same results. A failed join is a counted
    // attempt, announced again after the backoff; input it cannot use, or the iteration limit, ends the job.
    private async Task<CloudEvent?> JoinAsync(IJoinWork join, long jobId, CancellationToken cancellationToken)
    {
        var job = await jobs.GetAsync(jobId).ConfigureAwait(false);
        if (job is null || job.Status != _stage.Completes)
        {
            LogJobNotClaimed(logger, jobId, _stage.Completes, _stage.Completes);
            return null;
        }

        // One join at a time: a duplicated delivery, or the sweeper's re-announcement, leaves a join in hand alone. The
        // lock's lease is generous (five stage leases): a join reads and writes the whole result.
        if (await jobs.TryTakeJoinAsync(jobId, StageWorker.Current, _options.Lease * 5).ConfigureAwait(false) is not { } joining)
        {
            LogJobNotClaimed(logger, jobId, _stage.Completes, _stage.Completes);
            return null;
        }

        try
        {
            return await JoinHeldAsync(join, job, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await jobs.ReleaseJoinAsync(jobId, joining).ConfigureAwait(false);
        }
    }

    private async Task<CloudEvent?> JoinHeldAsync(IJoinWork join, Job job, CancellationToken cancellationToken)
    {
        var jobId = job.Id;
        // A process told to stop still joins (it takes seconds); if the grace runs out first, the delivery fails and the
        // broker delivers it again, to a process that is not stopping.
        var clock = Stopwatch.StartNew();
        if (await jobs.GetAsync(jobId).ConfigureAwait(false) is not { } current || current.Status != _stage.Completes)
        {
            // Joined and closed by another delivery between the first look and the lock.
            LogJobNotClaimed(logger, jobId, _stage.Completes, _stage.Completes);
            return null;
        }

        var segments = await jobs.GetSegmentsAsync(jobId).ConfigureAwait(false);
        IReadOnlyDictionary<string, string> fields;
        using (var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, shutdown.GivingBack))
        {
            try
            {
                fields = await join.JoinAsync(new JobContext(job, segments, Artifacts(job), progress), stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A failed join is a failed attempt of the last stage, counted as a segment's would be: announced again
                // after the backoff, or at the limit (or for input no retry can fix) the end of the job with the reason.
                var permanent = e is UnprocessableInputException or InvalidObjectKeyException;
                var reason = $"{_stage.Working} failed: {e.Message}";
                MarkFailed(reason, permanent);
                if (permanent)
                {
                    LogInputRejected(logger, jobId, _stage.Working, reason);
                }
                else
                {
                    LogAttemptFailed(logger, e, jobId, string.Empty, _stage.Working);
                }

                var (outcome, announcement) = await ending.FailJoinAsync(job, reason, permanent).ConfigureAwait(false);
                if (outcome.Result == FailureResult.Retried)
                {
                    _counts.Retried();
                }

                if (outcome.Result == FailureResult.Retried && announcement is not null)
                {
                    await BackOffAsync(jobId, outcome.Job!.Iteration, _stage.Completes, cancellationToken).ConfigureAwait(false);
                }

                return announcement;
            }
        }

        var closing = new Dictionary<string, string>(fields, StringComparer.Ordinal) { [JoinSecondsField] = Seconds(clock.Elapsed) };
        var exit = await ending.CloseAsync(job, closing).ConfigureAwait(false);
        if (exit is not null)
        {
            LogJoined(logger, jobId, segments.Count, clock.Elapsed.TotalSeconds);
            metrics.Joined(clock.Elapsed);
        }

        return exit;
    }

    // One attempt on the job (the cut) or a segment: the lease renewed while the work runs, the completion recorded, and
    // every way the attempt can end without completing (lost, given back, called off, failed) handled the same for both.
    private async Task<CloudEvent?> RunAttemptAsync<T>(
        Attempt attempt,
        Func<CancellationToken, Task<T>> run,
        Func<T, TimeSpan, Task<(bool Recorded, CloudEvent? Reply)>> complete,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        // Fires when a renewal finds the attempt's unit gone from this stage (cancelled by its user, or taken back by the
        // sweeper): the work in hand stops, since nothing it makes could be recorded.
        using var leaseLost = new CancellationTokenSource();
        try
        {
            T result;
            using (var renewing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            using (var working = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, shutdown.GivingBack, leaseLost.Token))
            {
                var renewal = RenewLeaseAsync(attempt, leaseLost, renewing.Token);
                try
                {
                    result = await run(working.Token).ConfigureAwait(false);
                }
                finally
                {
                    await renewing.CancelAsync().ConfigureAwait(false);
                    await renewal.ConfigureAwait(false);
                }
            }

            var (recorded, reply) = await complete(result, clock.Elapsed).ConfigureAwait(false);
            return recorded ? reply : await LostAsync(attempt).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (leaseLost.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return await LostAsync(attempt).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (shutdown.GivingBack.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            var reason = $"{_stage.Working} was stopped: its process was told to stop and the {_options.ShutdownGrace.TotalSeconds:0.#} s grace ran out";
            // One that left this stage meanwhile (cancelled) is not given back but dropped, what it wrote removed.
            return await attempt.GiveBackAsync(reason).ConfigureAwait(false) ? null : await LostAsync(attempt).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The delivery itself was called off. In a process told to stop (its sender stopping too, as when a whole
            // cluster stops) the work is given back, as after the grace: the stage was not at fault. Otherwise (a sender
            // that gave up waiting) the claim stays for the sweeper to take back as a failed attempt, so a stage that
            // never finishes in time ends its job at the iteration limit rather than being handed it again for ever.
            // Either way, a job that ended meanwhile (cancelled) loses what this attempt wrote.
            if (!shutdown.IsStopping
                || !await attempt.GiveBackAsync($"{_stage.Working} was stopped: its process was told to stop while the stage's request was called off").ConfigureAwait(false))
            {
                await ending.RemoveLeftoversAsync(attempt.Job, attempt.Written, CancellationToken.None).ConfigureAwait(false);
            }

            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // One that left this stage meanwhile (cancelled: its intermediates removed under the work, or taken back)
            // explains the failure; the attempt is dropped as lost, not reported as a fault of the stage.
            if (!await attempt.IsStillWorkingAsync().ConfigureAwait(false))
            {
                return await LostAsync(attempt).ConfigureAwait(false);
            }

            var permanent = e is UnprocessableInputException or InvalidObjectKeyException;
            var reason = $"{attempt.Reason}{_stage.Working} failed: {e.Message}";
            MarkFailed(reason, permanent);
            if (permanent)
            {
                // The user's input, not the service, is at fault: one line with the reason, no stack trace.
                LogInputRejected(logger, attempt.JobId, _stage.Working, reason);
            }
            else
            {
                LogAttemptFailed(logger, e, attempt.JobId, attempt.Name, _stage.Working);
            }

            var (retried, iteration, announcement) = await attempt.FailAsync(reason, permanent).ConfigureAwait(false);
            if (retried)
            {
                _counts.Retried();
            }

            if (retried && announcement is not null)
            {
                await BackOffAsync(attempt.JobId, iteration, _stage.Consumes, cancellationToken).ConfigureAwait(false);
            }

            return announcement;
        }
    }

    private JobArtifacts Artifacts(Job job) => new(buckets.Value, job.User, job.Id);

    // Tells the stage after this one that the job is on its way (a stage warm-up event, made here so that it is a child
    // of this span), without waiting for the broker's answer: the warm-up must not delay the work, and one that is lost
    // costs only the cold start it would have hidden.
    private void WarmNextStage(long jobId)
    {
        if (!_options.WarmNextStage || PipelineTopology.After(_stage) is not { } next)
        {
            return;
        }

        var warmup = GEdgeEvents.CreateStageWarmup(jobId, next, _options.EventSource);
        _ = Task.Run(async () =>
        {
            try
            {
                await publisher.Value.PublishAsync(warmup, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogWarmupFailed(logger, e, jobId, next.Name);
            }
        });
    }

    private static string Seconds(TimeSpan elapsed) => elapsed.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    // Waits StageOptions.RetryDelay, doubled for each restart after the first, before the retry is announced; a process
    // told to stop, or a delivery called off, announces at once (the work is already back in its waiting status).
    private async Task BackOffAsync(long jobId, int iteration, JobStatus announced, CancellationToken cancellationToken)
    {
        var delay = _options.RetryDelay * Math.Pow(2, Math.Max(0, iteration - 1));
        if (delay <= TimeSpan.Zero || shutdown.IsStopping)
        {
            return;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, shutdown.GivingBack);
        LogBackingOff(logger, jobId, announced, delay.TotalSeconds);
        await Task.Delay(delay, stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    // The attempt's job or segment left this stage while it worked (cancelled, or taken back): the attempt is dropped,
    // and what it wrote is removed if the job has ended.
    private async Task<CloudEvent?> LostAsync(Attempt attempt)
    {
        LogLost(logger, attempt.JobId, attempt.Name, _stage.Working);
        await ending.RemoveLeftoversAsync(attempt.Job, attempt.Written).ConfigureAwait(false);
        return null;
    }

    private Task RenewLeaseAsync(Attempt attempt, CancellationTokenSource leaseLost, CancellationToken cancellationToken) =>
        LeaseRenewal.KeepAsync(
            attempt.RenewAsync,
            _options.LeaseRenewal,
            TimeProvider.System,
            leaseLost,
            lost: () => LogLeaseLost(logger, attempt.JobId, attempt.Name, _stage.Working),
            unreachable: e => LogRenewalFailed(logger, e, attempt.JobId, attempt.Name, _stage.Working),
            cancellationToken);

    // A work reports frames; which segment of how many they belong to is the runner's to say.
    private sealed class SegmentProgress(IStageProgressSink sink, int segment, int segments) : IStageProgressSink
    {
        public void Report(StageProgress progress) => sink.Report(progress with { Segment = segment, Segments = segments });
    }

    // What one attempt holds a lease on: the job itself while it is cut, or one of its segments.
    private abstract class Attempt(JobStage stage, long jobId)
    {
        protected JobStage Stage => stage;

        public long JobId => jobId;

        // Set once read after the claim; until then, the id is all there is (a give-back needs no more).
        public Job Job { get; set; } = null!;

        // What the work wrote to the work bucket, removed with the rest if the job ends under it.
        public WrittenKeys Written { get; } = new();

        // How log lines name it after the job id: "" for the job, "segment 3 " for a segment.
        public abstract string Name { get; }

        // How a failure's reason starts: "" for the job, "segment 3: " for a segment.
        public abstract string Reason { get; }

        public abstract Task<bool> RenewAsync();

        public abstract Task<bool> IsStillWorkingAsync();

        public abstract Task<bool> GiveBackAsync(string reason);

        // A give-back that took is counted as the stage's.
        protected async Task<bool> Counted(Task<bool> givingBack)
        {
            var given = await givingBack.ConfigureAwait(false);
            if (given)
            {
                stage._counts.GaveBack();
            }

            return given;
        }

        public abstract Task<(bool Retried, int Iteration, CloudEvent? Announcement)> FailAsync(string reason, bool permanent);
    }

    private sealed class JobAttempt(JobStage stage, long jobId) : Attempt(stage, jobId)
    {
        public override string Name => string.Empty;

        public override string Reason => string.Empty;

        public override Task<bool> RenewAsync() => Stage.Jobs.RenewLeaseAsync(JobId, Stage._stage.Working, Stage._options.Lease);

        public override async Task<bool> IsStillWorkingAsync() =>
            await Stage.Jobs.GetAsync(JobId).ConfigureAwait(false) is { } current && current.Status == Stage._stage.Working && current.Segments is null;

        public override Task<bool> GiveBackAsync(string reason) => Counted(Stage.Ending.GiveBackAsync(JobId, Stage._stage.Working, reason));

        public override async Task<(bool, int, CloudEvent?)> FailAsync(string reason, bool permanent)
        {
            var (outcome, announcement) = await Stage.Ending.FailAttemptAsync(Job, Stage._stage.Working, reason, permanent).ConfigureAwait(false);
            return (outcome.Result == FailureResult.Retried, outcome.Job?.Iteration ?? 0, announcement);
        }
    }

    private sealed class SegmentAttempt(JobStage stage, long jobId, int index) : Attempt(stage, jobId)
    {
        public override string Name { get; } = string.Create(CultureInfo.InvariantCulture, $"segment {index} ");

        public override string Reason { get; } = string.Create(CultureInfo.InvariantCulture, $"segment {index}: ");

        public override Task<bool> RenewAsync() => Stage.Jobs.RenewSegmentLeaseAsync(JobId, index, Stage._stage.Working, Stage._options.Lease);

        public override async Task<bool> IsStillWorkingAsync() =>
            await Stage.Jobs.GetAsync(JobId).ConfigureAwait(false) is { Status: not JobStatus.Exit }
            && (await Stage.Jobs.GetSegmentsAsync(JobId).ConfigureAwait(false)).ElementAtOrDefault(index)?.Status == Stage._stage.Working;

        public override Task<bool> GiveBackAsync(string reason) => Counted(Stage.Ending.GiveBackSegmentAsync(JobId, index, Stage._stage.Working, reason));

        public override async Task<(bool, int, CloudEvent?)> FailAsync(string reason, bool permanent)
        {
            var (outcome, announcement) = await Stage.Ending.FailSegmentAttemptAsync(Job, index, Stage._stage.Working, reason, permanent).ConfigureAwait(false);
            return (outcome.Result == FailureResult.Retried, outcome.SegmentIteration, announcement);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} warm-up: {Stage} is ready")]
    private static partial void LogWarm(ILogger logger, long jobId, string stage);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} the warm-up of {Stage} could not be sent; it starts when the job's first event reaches it")]
    private static partial void LogWarmupFailed(ILogger logger, Exception exception, long jobId, string stage);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} event for {Status} ignored: this stage takes {Consumes}")]
    private static partial void LogWrongStatus(ILogger logger, long jobId, JobStatus status, JobStatus consumes);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} segment {Segment} not claimed for {Working}: it is no longer in {Consumes} (a duplicate or late event), or its job has ended")]
    private static partial void LogNotClaimed(ILogger logger, long jobId, int segment, JobStatus working, JobStatus consumes);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} not taken for {Status}: it is no longer in {Expected} (a duplicate or late event)")]
    private static partial void LogJobNotClaimed(ILogger logger, long jobId, JobStatus status, JobStatus expected);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} segment {Segment} moved to {Status}")]
    private static partial void LogMoved(ILogger logger, long jobId, int segment, JobStatus status);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} being cut into segments")]
    private static partial void LogCutting(ILogger logger, long jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} cut into {Segments} segments in {Seconds} s")]
    private static partial void LogCut(ILogger logger, long jobId, int segments, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} segment {Segment} could not be announced; the sweeper announces it once it has waited too long")]
    private static partial void LogAnnouncementFailed(ILogger logger, Exception exception, long jobId, int segment);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} results of {Segments} segments joined in {Seconds} s; moved to Exit")]
    private static partial void LogJoined(ILogger logger, long jobId, int segments, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} announced in {Status} again in {Seconds} s (retry backoff)")]
    private static partial void LogBackingOff(ILogger logger, long jobId, JobStatus status, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} {What}left {Working} while this stage worked on it (cancelled, or its lease expired and it was taken back); the attempt is dropped")]
    private static partial void LogLost(ILogger logger, long jobId, string what, JobStatus working);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} segment {Segment} moved to {Status} in {Seconds} s")]
    private static partial void LogCompleted(ILogger logger, long jobId, int segment, JobStatus status, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "{JobId} {What}{Working} attempt failed")]
    private static partial void LogAttemptFailed(ILogger logger, Exception exception, long jobId, string what, JobStatus working);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} {Working} rejected its input: {Reason}")]
    private static partial void LogInputRejected(ILogger logger, long jobId, JobStatus working, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} {What}lease renewal in {Working} failed; trying again at the next renewal")]
    private static partial void LogRenewalFailed(ILogger logger, Exception exception, long jobId, string what, JobStatus working);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} {What}lease could not be renewed: it left {Working}")]
    private static partial void LogLeaseLost(ILogger logger, long jobId, string what, JobStatus working);
}
