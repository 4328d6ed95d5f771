using CloudNative.CloudEvents;
using GEdge.Contracts;

namespace GEdge.Events;

/// <summary>
/// A Knative Trigger's filter: exact matches on context attributes (Knative's <c>spec.filter.attributes</c>).
/// An event matches when every listed attribute is present with exactly that value.
/// </summary>
public sealed record TriggerFilter(IReadOnlyDictionary<string, string> Attributes)
{
    /// <summary>Whether <paramref name="cloudEvent"/> passes the filter.</summary>
    public bool Matches(CloudEvent cloudEvent)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        foreach (var (name, expected) in Attributes)
        {
            var attribute = cloudEvent.GetAttribute(name);
            var actual = attribute is null ? null : cloudEvent[attribute];
            if (actual is null || attribute!.Format(actual) != expected)
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>A subscription of one function (by its Knative Service name) to the events its filter passes.</summary>
public sealed record EventTrigger(string Name, string Subscriber, TriggerFilter Filter);

/// <summary>
/// The routing of G-Edge: which function takes which event. A job's work is cut into segments by the first stage and
/// joined by the last; in between, each segment moves through the stages on its own. So the first stage's function
/// takes the job's Enqueue (<see cref="Cut"/>), every stage's function takes the segment status its stage consumes
/// (<see cref="For"/>), and the last stage's function takes the job's last completed status (<see cref="Join"/>). All
/// are derived from <see cref="PipelineTopology"/>; the Knative Triggers in <c>knative/</c> declare the same filters (a
/// test keeps the two in step), and the embedded router routes by these.
/// </summary>
public static class GEdgeTriggers
{
    // One trigger per stage, made once, so every lookup of a stage's trigger answers the same instance.
    private static readonly Dictionary<PipelineStage, EventTrigger> s_stages = PipelineTopology.Stages.ToDictionary(
        stage => stage,
        stage => new EventTrigger($"gedge-{stage.Name}", stage.Name, Filter(GEdgeEvents.SegmentStatusChangedType, stage.Consumes)));

    /// <summary>
    /// The Knative Service of the gateway app that takes its events (<c>video uploaded</c>, dead letters, the sweeper's
    /// ping): cluster-local, beside the public <c>gateway</c> Service of the same app, which takes none. The API's public
    /// route then leads to no event endpoint (Knative has no per-path visibility, so the split is two Services).
    /// </summary>
    public const string GatewayEventsService = "gateway-events";

    /// <summary>The gateway creates the job when a video has been uploaded (on its events Service).</summary>
    public static EventTrigger Intake { get; } = new("gedge-intake", GatewayEventsService, Filter(GEdgeEvents.VideoUploadedType));

    /// <summary>The first stage's function cuts an enqueued job's video into segments.</summary>
    public static EventTrigger Cut { get; } = new("gedge-cut", PipelineTopology.First.Name, Filter(GEdgeEvents.JobStatusChangedType, PipelineTopology.First.Consumes));

    /// <summary>Preprocess takes segments that are enqueued.</summary>
    public static EventTrigger Preprocess { get; } = For(PipelineTopology.Preprocess);

    /// <summary>Infer takes segments whose frames are ready.</summary>
    public static EventTrigger Infer { get; } = For(PipelineTopology.Infer);

    /// <summary>Postprocess takes segments whose detections are ready.</summary>
    public static EventTrigger Postprocess { get; } = For(PipelineTopology.Postprocess);

    /// <summary>The last stage's function joins a job's results once every segment has completed it.</summary>
    public static EventTrigger Join { get; } = new("gedge-join", PipelineTopology.Last.Name, Filter(GEdgeEvents.JobStatusChangedType, PipelineTopology.Last.Completes));

    /// <summary>
    /// Every stage but the first is warmed when the stage before it starts on a job: <c>gedge-NAME-warmup</c>, to the
    /// function <c>NAME</c>, for the <c>stage warm-up</c> events naming it.
    /// </summary>
    public static IReadOnlyList<EventTrigger> Warmups { get; } =
    [
        .. PipelineTopology.Stages.Skip(1).Select(stage => new EventTrigger(
            $"gedge-{stage.Name}-warmup",
            stage.Name,
            new TriggerFilter(new Dictionary<string, string>(StringComparer.Ordinal) { ["type"] = GEdgeEvents.StageWarmupType, [GEdgeEvents.StageAttribute.Name] = stage.Name }))),
    ];

    /// <summary>Every trigger, in pipeline order: the intake, the cut, one per stage, the join, then the warm-ups.</summary>
    public static IReadOnlyList<EventTrigger> All { get; } = [Intake, Cut, .. PipelineTopology.Stages.Select(For), Join, .. Warmups];

    /// <summary>
    /// The trigger of <paramref name="stage"/>: <c>gedge-NAME</c>, to the function <c>NAME</c>, for the segment status
    /// changes into the status the stage consumes.
    /// </summary>
    public static EventTrigger For(PipelineStage stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        return s_stages.TryGetValue(stage, out var trigger)
            ? trigger
            : throw new ArgumentException($"'{stage.Name}' is not a stage of the pipeline.", nameof(stage));
    }

    /// <summary>
    /// Every trigger whose events <paramref name="stage"/>'s function takes: its segments' (<see cref="For"/>), and the
    /// cut or the join when it is the first or the last stage.
    /// </summary>
    public static IReadOnlyList<EventTrigger> Of(PipelineStage stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        return [.. All.Where(trigger => trigger.Subscriber == stage.Name)];
    }

    private static TriggerFilter Filter(string type, JobStatus? status = null)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal) { ["type"] = type };
        if (status is { } value)
        {
            attributes[GEdgeEvents.JobStatusAttribute.Name] = value.ToString();
        }

        return new TriggerFilter(attributes);
    }
}

/// <summary>
/// A function's entry point for one event, in the Knative reply pattern: it returns the event to send on (the next
/// status change), or null when there is nothing to say. It never calls another function.
/// </summary>
public interface IEventSubscriber
{
    /// <summary>Handles one delivery of <paramref name="cloudEvent"/>; deliveries may repeat.</summary>
    Task<CloudEvent?> HandleAsync(CloudEvent cloudEvent, CancellationToken cancellationToken);
}
