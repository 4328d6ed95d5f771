using System.Diagnostics;
using CloudNative.CloudEvents;

namespace GEdge.Events;

/// <summary>
/// The trace context an event carries, as the CloudEvents Distributed Tracing extension defines it
/// (github.com/cloudevents/spec, cloudevents/extensions/distributed-tracing.md): the W3C <c>traceparent</c> and
/// <c>tracestate</c> of the span that made the event. The C# SDK (CloudNative.CloudEvents 2.x) has no type for this
/// extension, so it is declared here as its other extensions are. A stage's span for an event is then a child of the
/// span that published it, across processes, brokers and retries: one trace per job.
/// </summary>
public static class EventTracing
{
    /// <summary>The W3C traceparent of the span that made the event (<c>00-TRACEID-SPANID-FLAGS</c>).</summary>
    public static readonly CloudEventAttribute TraceParentAttribute = CloudEventAttribute.CreateExtension("traceparent", CloudEventAttributeType.String);

    /// <summary>The W3C tracestate that goes with it, when there is one.</summary>
    public static readonly CloudEventAttribute TraceStateAttribute = CloudEventAttribute.CreateExtension("tracestate", CloudEventAttributeType.String);

    /// <summary>The extension's attributes, for the formatters and <see cref="GEdgeEvents.ExtensionAttributes"/>.</summary>
    public static IReadOnlyList<CloudEventAttribute> Attributes { get; } = [TraceParentAttribute, TraceStateAttribute];

    /// <summary>
    /// Stamps <paramref name="cloudEvent"/> with the trace context of <paramref name="activity"/> (by default the current
    /// one): the span whose work made the event. Without an activity (nobody traces) the event carries none. A W3C id is
    /// required; an activity with a hierarchical id is not written.
    /// </summary>
    public static CloudEvent Stamp(CloudEvent cloudEvent, Activity? activity = null)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        activity ??= Activity.Current;
        if (activity is { IdFormat: ActivityIdFormat.W3C, Id: { } id })
        {
            cloudEvent[TraceParentAttribute] = id;
            cloudEvent[TraceStateAttribute] = string.IsNullOrEmpty(activity.TraceStateString) ? null : activity.TraceStateString;
        }

        return cloudEvent;
    }

    /// <summary>The trace context <paramref name="cloudEvent"/> carries; null when it carries none, or one that does not parse.</summary>
    public static ActivityContext? ContextOf(CloudEvent cloudEvent)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        return cloudEvent[TraceParentAttribute] is string traceParent
            && ActivityContext.TryParse(traceParent, cloudEvent[TraceStateAttribute] as string, isRemote: true, out var context)
            ? context
            : null;
    }
}
