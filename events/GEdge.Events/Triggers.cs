using CloudNative.CloudEvents;
using GEdge.JobTable;

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
/// The routing of G-Edge: which function takes which event. The Knative Triggers in <c>knative/</c> declare the same
/// filters (a test keeps the two in step), and the embedded router routes by these.
/// </summary>
public static class GEdgeTriggers
{
    /// <summary>The gateway creates the job when a video has been uploaded.</summary>
    public static EventTrigger Intake { get; } = new("gedge-intake", "gateway", Filter(GEdgeEvents.VideoUploadedType));

    /// <summary>Preprocess takes jobs that are enqueued.</summary>
    public static EventTrigger Preprocess { get; } = new("gedge-preprocess", "preprocess", Filter(GEdgeEvents.JobStatusChangedType, JobStatus.Enqueue));

    /// <summary>Infer takes jobs whose frames are ready.</summary>
    public static EventTrigger Infer { get; } = new("gedge-infer", "infer", Filter(GEdgeEvents.JobStatusChangedType, JobStatus.Preprocessing_complete));

    /// <summary>Postprocess takes jobs whose detections are ready.</summary>
    public static EventTrigger Postprocess { get; } = new("gedge-postprocess", "postprocess", Filter(GEdgeEvents.JobStatusChangedType, JobStatus.Inferencing_complete));

    /// <summary>Every trigger, in pipeline order.</summary>
    public static IReadOnlyList<EventTrigger> All { get; } = [Intake, Preprocess, Infer, Postprocess];

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
