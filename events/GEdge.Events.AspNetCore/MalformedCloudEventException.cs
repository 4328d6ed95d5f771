namespace GEdge.Events.AspNetCore;

/// <summary>Why an HTTP request does not carry a CloudEvent G-Edge accepts.</summary>
public enum MalformedCloudEventReason
{
    /// <summary>Neither a <c>ce-specversion</c> header (binary mode) nor a <c>specversion</c> attribute (structured mode).</summary>
    MissingSpecVersion,

    /// <summary>A spec version this SDK does not know.</summary>
    UnknownSpecVersion,

    /// <summary>A body that should be JSON and is not.</summary>
    InvalidJson,

    /// <summary>A required attribute (<c>id</c>, <c>source</c>, <c>type</c>) is missing or empty.</summary>
    MissingAttribute,

    /// <summary>An attribute whose value is not valid for its type, or a header that is repeated.</summary>
    InvalidAttribute,

    /// <summary>A Content-Type that cannot be parsed, or a structured format other than JSON.</summary>
    UnsupportedContentType,

    /// <summary>A batch (<c>application/cloudevents-batch+json</c>): G-Edge takes one event per request.</summary>
    BatchMode,

    /// <summary>An event type G-Edge does not handle.</summary>
    UnknownEventType,

    /// <summary>A body larger than any G-Edge event (they are tiny).</summary>
    BodyTooLarge,
}

/// <summary>An HTTP request that does not carry an acceptable CloudEvent; the message says what is wrong, for the 400.</summary>
public sealed class MalformedCloudEventException(MalformedCloudEventReason reason, string message) : Exception(message)
{
    /// <summary>What kind of problem it is.</summary>
    public MalformedCloudEventReason Reason { get; } = reason;
}
