using GEdge.Contracts;
using Prometheus;

namespace GEdge.Metrics;

/// <summary>
/// What a G-Edge process counts, for Prometheus to scrape at <c>/metrics</c>: every instrument's name, unit, help and
/// labels live here, once. Named as Prometheus' conventions and OpenTelemetry's mapping to them name things: a
/// <c>gedge_</c> prefix, the base unit as a suffix (<c>_seconds</c>), <c>_total</c> on counters, labels for what a
/// series is of (<c>stage</c> as <see cref="PipelineStage.Name"/>, <c>status</c> as the job table spells it). Each
/// process counts what it did itself (a stage its segments, the gateway its uploads, every process the job table
/// changes it made); Prometheus sums the processes. The process's own figures (CPU, memory, GC) come with them.
/// </summary>
/// <remarks>
/// One registry per instance, not prometheus-net's static default: a test host, or the embedded pipeline with every stage
/// in one process, counts only its own. Series whose labels are known up front (each status; each stage's, through
/// <see cref="ForStage"/>) start at zero, so a query sees a stage that has done nothing yet as 0, not as missing.
/// </remarks>
public sealed class GEdgeMetrics
{
    /// <summary>The Content-Type of what <see cref="WriteAsync"/> writes: Prometheus' text format 0.0.4.</summary>
    public const string ContentType = PrometheusConstants.TextContentTypeWithVersionAndEncoding;

    // A segment's stage takes from a tenth of a second (a short clip's Infer) to minutes (a long 1080p segment's
    // Postprocess); the cut and the join of a job likewise.
    private static readonly double[] s_workSeconds = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];

    // A segment waits for its stage from milliseconds (a warm process, an empty queue) to minutes (a backlog, a cold start).
    private static readonly double[] s_waitSeconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    // One frame through the model: about 2 ms on a GPU to a few hundred on a small CPU.
    private static readonly double[] s_inferenceSeconds = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2];

    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();
    private readonly Counter _jobTransitions;
    private readonly Counter _segmentTransitions;
    private readonly Histogram _stageDuration;
    private readonly Histogram _queueWait;
    private readonly Gauge _inFlight;
    private readonly Counter _frames;
    private readonly Counter _retries;
    private readonly Counter _giveBacks;
    private readonly Counter _takeBacks;
    private readonly Histogram _cutDuration;
    private readonly Histogram _joinDuration;
    private readonly Histogram _inference;
    private readonly Counter _deadLetters;
    private readonly Counter _uploadsAccepted;
    private readonly Counter _uploadsRefused;
    private readonly Counter _unnamedArtifacts;
    private readonly Counter _removalFailures;

    /// <summary>Creates the instruments in a registry of their own, with the process's figures.</summary>
    public GEdgeMetrics()
    {
        DotNetStats.Register(_registry);
        var metrics = Prometheus.Metrics.WithCustomRegistry(_registry);
        _jobTransitions = metrics.CreateCounter(
            "gedge_job_transitions_total", "Jobs that entered each status, as this process moved them in the job table.", "status");
        _segmentTransitions = metrics.CreateCounter(
            "gedge_segment_transitions_total", "Segments that entered each status, as this process moved them in the job table.", "status");
        foreach (var status in Enum.GetValues<JobStatus>())
        {
            _jobTransitions.WithLabels(status.ToString());
            _segmentTransitions.WithLabels(status.ToString());
        }

        _stageDuration = metrics.CreateHistogram(
            "gedge_stage_duration_seconds", "Time a stage worked on one segment, from its claim to its recorded completion.",
            new HistogramConfiguration { LabelNames = ["stage"], Buckets = s_workSeconds });
        _queueWait = metrics.CreateHistogram(
            "gedge_stage_queue_wait_seconds", "Time from the event that made a segment ready for a stage to the stage's claim of it.",
            new HistogramConfiguration { LabelNames = ["stage"], Buckets = s_waitSeconds });
        _inFlight = metrics.CreateGauge("gedge_stage_in_flight_segments", "Segments a stage is working on now.", "stage");
        _frames = metrics.CreateCounter("gedge_stage_frames_total", "Frames of the segments a stage completed.", "stage");
        _retries = metrics.CreateCounter("gedge_stage_retries_total", "Failed attempts of a stage sent back to be tried again.", "stage");
        _giveBacks = metrics.CreateCounter("gedge_stage_give_backs_total", "Segments a stage gave back unfinished because its process was stopping.", "stage");
        _takeBacks = metrics.CreateCounter(
            "gedge_sweeper_take_backs_total", "Segments and jobs the sweeper took back from a stage whose lease ran out.", "stage");
        foreach (var stage in PipelineTopology.Stages)
        {
            _takeBacks.WithLabels(stage.Name);
        }

        _cutDuration = metrics.CreateHistogram(
            "gedge_cut_duration_seconds", "Time the first stage took to cut a job's video into segments.", new HistogramConfiguration { Buckets = s_workSeconds });
        _joinDuration = metrics.CreateHistogram(
            "gedge_join_duration_seconds", "Time the last stage took to join a job's segments into its results.", new HistogramConfiguration { Buckets = s_workSeconds });
        _inference = metrics.CreateHistogram(
            "gedge_inference_duration_seconds", "Time the model took per frame (a batch's time shared among its frames).",
            new HistogramConfiguration { Buckets = s_inferenceSeconds });
        _deadLetters = metrics.CreateCounter(
            "gedge_dead_letters_total", "Events a Trigger gave up delivering, by the status they announced.", "status");
        foreach (var status in Enum.GetValues<JobStatus>())
        {
            _deadLetters.WithLabels(status.ToString());
        }

        _uploadsAccepted = metrics.CreateCounter("gedge_uploads_accepted_total", "Uploads that became a new job.");
        _uploadsRefused = metrics.CreateCounter("gedge_uploads_refused_total", "Uploads the jobs API refused, by reason.", "reason");
        foreach (var reason in UploadRefusal.All)
        {
            _uploadsRefused.WithLabels(reason);
        }

        _unnamedArtifacts = metrics.CreateCounter(
            "gedge_artifacts_unnamed_total", "Objects of a job its records did not name, found (and deleted) by the listing behind a removal, by kind.", "kind");
        _removalFailures = metrics.CreateCounter("gedge_artifact_removal_failures_total", "Removals of a job's objects that failed, by kind.", "kind");
        foreach (var kind in ArtifactKind.All)
        {
            _unnamedArtifacts.WithLabels(kind);
            _removalFailures.WithLabels(kind);
        }
    }

    /// <summary>
    /// Counts what a broker holds, read from <paramref name="read"/> each time the series are collected (a scrape):
    /// <c>gedge_broker_requests{service}</c>, the Service's requests not yet answered (queued, held for a pod, in flight,
    /// between retries: what the autoscaler scales on), and <c>gedge_broker_ready_pods{service}</c>, the pods deliveries
    /// go to (0 for a Service scaled to zero).
    /// </summary>
    public void ObserveBroker(Func<IEnumerable<(string Service, int Requests, int ReadyPods)>> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var metrics = Prometheus.Metrics.WithCustomRegistry(_registry);
        var requests = metrics.CreateGauge("gedge_broker_requests", "Requests for a Service the broker has not had answered: queued, held for a pod, in flight, between retries.", "service");
        var pods = metrics.CreateGauge("gedge_broker_ready_pods", "Pods of a Service the broker delivers to; 0 while it is scaled to zero.", "service");
        _registry.AddBeforeCollectCallback(() =>
        {
            foreach (var (service, held, ready) in read())
            {
                requests.WithLabels(service).Set(held);
                pods.WithLabels(service).Set(ready);
            }
        });
    }

    /// <summary>Writes every series in Prometheus' text format (<see cref="ContentType"/>).</summary>
    public Task WriteAsync(Stream destination, CancellationToken cancellationToken) =>
        _registry.CollectAndExportAsTextAsync(destination, cancellationToken);

    /// <summary>A job entered <paramref name="status"/>.</summary>
    public void JobEntered(JobStatus status) => _jobTransitions.WithLabels(status.ToString()).Inc();

    /// <summary><paramref name="count"/> segments entered <paramref name="status"/>.</summary>
    public void SegmentsEntered(JobStatus status, int count = 1) => _segmentTransitions.WithLabels(status.ToString()).Inc(count);

    /// <summary>The sweeper took a segment, or a job, back from the stage that works in <paramref name="working"/>.</summary>
    public void TakenBack(JobStatus working) =>
        _takeBacks.WithLabels(PipelineTopology.Stages.FirstOrDefault(stage => stage.Working == working)?.Name ?? working.ToString()).Inc();

    /// <summary>A job was cut into segments in <paramref name="duration"/>.</summary>
    public void Cut(TimeSpan duration) => _cutDuration.Observe(duration.TotalSeconds);

    /// <summary>A job's segments were joined in <paramref name="duration"/>.</summary>
    public void Joined(TimeSpan duration) => _joinDuration.Observe(duration.TotalSeconds);

    /// <summary><paramref name="frames"/> frames went through the model in one run of <paramref name="duration"/>.</summary>
    public void Inferred(TimeSpan duration, int frames)
    {
        if (frames > 0)
        {
            _inference.Observe(duration.TotalSeconds / frames, frames);
        }
    }

    /// <summary>A Trigger gave up delivering an event that announced <paramref name="status"/> (null: not a job's or segment's event).</summary>
    public void DeadLettered(JobStatus? status) => _deadLetters.WithLabels(status?.ToString() ?? "none").Inc();

    /// <summary>An upload became a new job.</summary>
    public void UploadAccepted() => _uploadsAccepted.Inc();

    /// <summary>The jobs API refused an upload for <paramref name="reason"/>, one of <see cref="UploadRefusal"/>'s.</summary>
    public void UploadRefused(string reason) => _uploadsRefused.WithLabels(reason).Inc();

    /// <summary>A removal of a job's <paramref name="kind"/> (<see cref="ArtifactKind"/>) found <paramref name="count"/> objects no record named.</summary>
    public void UnnamedArtifacts(string kind, int count) => _unnamedArtifacts.WithLabels(kind).Inc(count);

    /// <summary>A removal of a job's <paramref name="kind"/> (<see cref="ArtifactKind"/>) failed.</summary>
    public void RemovalFailed(string kind) => _removalFailures.WithLabels(kind).Inc();

    /// <summary>The instruments of one stage, its series started at zero.</summary>
    public StageMetrics ForStage(PipelineStage stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        return new StageMetrics(
            _stageDuration.WithLabels(stage.Name), _queueWait.WithLabels(stage.Name), _inFlight.WithLabels(stage.Name),
            _frames.WithLabels(stage.Name), _retries.WithLabels(stage.Name), _giveBacks.WithLabels(stage.Name));
    }
}

/// <summary>What one stage counts of the segments it works on (<see cref="GEdgeMetrics.ForStage"/>).</summary>
public sealed class StageMetrics
{
    private readonly Histogram.Child _duration;
    private readonly Histogram.Child _queueWait;
    private readonly Gauge.Child _inFlight;
    private readonly Counter.Child _frames;
    private readonly Counter.Child _retries;
    private readonly Counter.Child _giveBacks;

    internal StageMetrics(
        Histogram.Child duration, Histogram.Child queueWait, Gauge.Child inFlight, Counter.Child frames, Counter.Child retries, Counter.Child giveBacks)
    {
        _duration = duration;
        _queueWait = queueWait;
        _inFlight = inFlight;
        _frames = frames;
        _retries = retries;
        _giveBacks = giveBacks;
    }

    /// <summary>
    /// The stage claimed a segment whose event was sent at <paramref name="sent"/>; the segment is in flight until the
    /// returned scope ends.
    /// </summary>
    public InFlightSegment Claimed(DateTimeOffset? sent, DateTimeOffset now)
    {
        if (sent is { } time)
        {
            // Clocks of two machines may disagree by a little: a wait is never negative.
            _queueWait.Observe(Math.Max(0, (now - time).TotalSeconds));
        }

        _inFlight.Inc();
        return new InFlightSegment(_inFlight);
    }

    /// <summary>The stage completed a segment of <paramref name="frames"/> frames in <paramref name="duration"/>.</summary>
    public void Completed(TimeSpan duration, int? frames)
    {
        _duration.Observe(duration.TotalSeconds);
        if (frames is > 0)
        {
            _frames.Inc(frames.Value);
        }
    }

    /// <summary>A failed attempt was sent back to be tried again.</summary>
    public void Retried() => _retries.Inc();

    /// <summary>A segment was given back unfinished: the process was stopping.</summary>
    public void GaveBack() => _giveBacks.Inc();
}

/// <summary>A segment in flight in a stage (<see cref="StageMetrics.Claimed"/>), until disposed.</summary>
public readonly struct InFlightSegment : IDisposable
{
    private readonly Gauge.Child? _inFlight;

    internal InFlightSegment(Gauge.Child inFlight) => _inFlight = inFlight;

    /// <inheritdoc />
    public void Dispose() => _inFlight?.Dec();
}

/// <summary>What of a job's objects a removal is of: the values of the artifact counters' <c>kind</c>.</summary>
public static class ArtifactKind
{
    /// <summary>What the stages handed each other, in the work bucket.</summary>
    public const string Intermediates = "intermediates";

    /// <summary>The annotated video, detections and summary, in the results bucket.</summary>
    public const string Results = "results";

    /// <summary>Both kinds, each a series from the start.</summary>
    public static IReadOnlyList<string> All { get; } = [Intermediates, Results];
}

/// <summary>Why the jobs API refused an upload: the values of <c>gedge_uploads_refused_total</c>'s <c>reason</c>.</summary>
public static class UploadRefusal
{
    /// <summary>Larger than the gateway's limit (413).</summary>
    public const string TooLarge = "too_large";

    /// <summary>Not a video: its name or its first bytes are not a video container's (415).</summary>
    public const string NotAVideo = "not_a_video";

    /// <summary>A name that cannot be an object's key (400).</summary>
    public const string InvalidName = "invalid_name";

    /// <summary>A request the API could not read: no name, a broken multipart body, a body cut short (400).</summary>
    public const string Malformed = "malformed";

    /// <summary>Stored, but the broker would not take its first event, so the job was ended (503).</summary>
    public const string NotStarted = "not_started";

    /// <summary>The client hung up before the upload was whole.</summary>
    public const string Aborted = "aborted";

    /// <summary>A failure of the service's own (500).</summary>
    public const string Failed = "failed";

    /// <summary>Every reason, each a series from the start.</summary>
    public static IReadOnlyList<string> All { get; } = [TooLarge, NotAVideo, InvalidName, Malformed, NotStarted, Aborted, Failed];
}
