using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using CloudNative.CloudEvents;
using GEdge.Contracts;

namespace GEdge.Events;

/// <summary>The data of a <c>video uploaded</c> event: which object arrived, and whose it is.</summary>
public sealed record VideoUploaded(
    [property: JsonRequired] string User,
    [property: JsonRequired] string Bucket,
    [property: JsonRequired] string Key,
    [property: JsonRequired] string ETag,
    long Size);

/// <summary>The data of a <c>job status changed</c> event. The status also travels as the <c>jobstatus</c> attribute.</summary>
public sealed record JobStatusChanged([property: JsonRequired] long JobId, [property: JsonRequired] JobStatus Status);

/// <summary>
/// The data of a <c>segment status changed</c> event: segment <see cref="Segment"/> (from 0) of a job is now in
/// <see cref="Status"/>. The status also travels as the <c>jobstatus</c> attribute and the segment as <c>segment</c>.
/// </summary>
public sealed record SegmentStatusChanged(
    [property: JsonRequired] long JobId,
    [property: JsonRequired] int Segment,
    [property: JsonRequired] JobStatus Status);

/// <summary>
/// The data of a <c>stage warm-up</c> event: a job is on its way to <see cref="Stage"/>, which should be ready for it. The
/// stage also travels as the <c>stage</c> attribute, which its Trigger routes on.
/// </summary>
public sealed record StageWarmup([property: JsonRequired] long JobId, [property: JsonRequired] string Stage);

/// <summary>Source-generated JSON for the event data (no reflection on the hot path, trimming-safe).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(VideoUploaded))]
[JsonSerializable(typeof(JobStatusChanged))]
[JsonSerializable(typeof(SegmentStatusChanged))]
[JsonSerializable(typeof(StageWarmup))]
public sealed partial class GEdgeEventJsonContext : JsonSerializerContext;

/// <summary>
/// The CloudEvents of G-Edge: their types, their extension attributes, and how to build and read them. A job's status
/// changes start and end its work (the cut into segments, the join of the results); each segment's status changes move
/// the segment through the stages. A Knative Trigger routes on <c>type</c> plus the <c>jobstatus</c> extension, so a
/// stage never has to open the data.
/// </summary>
public static class GEdgeEvents
{
    /// <summary>The type of the event that starts a job.</summary>
    public const string VideoUploadedType = "dev.gedge.video.uploaded";

    /// <summary>The type of the event sent on every job status change.</summary>
    public const string JobStatusChangedType = "dev.gedge.job.status.changed";

    /// <summary>The type of the event sent on every status change of one segment of a job.</summary>
    public const string SegmentStatusChangedType = "dev.gedge.segment.status.changed";

    /// <summary>
    /// The type of the event that tells a stage a job is on its way to it, sent when the stage before it starts on the job,
    /// so that a stage scaled to zero (Infer, on a GPU node) starts while the job is still upstream. Answering it is the
    /// whole work: a function answers only once its subscribers are built (Infer's model loaded).
    /// </summary>
    public const string StageWarmupType = "dev.gedge.stage.warmup";

    /// <summary>Extension attribute carrying the new status (CloudEvents names: lower-case letters and digits).</summary>
    public static readonly CloudEventAttribute JobStatusAttribute = CloudEventAttribute.CreateExtension("jobstatus", CloudEventAttributeType.String);

    /// <summary>Extension attribute carrying the job id, so logs and dead-letter sinks can name the job.</summary>
    public static readonly CloudEventAttribute JobIdAttribute = CloudEventAttribute.CreateExtension("jobid", CloudEventAttributeType.String);

    /// <summary>Extension attribute carrying the segment's number (from 0) on a segment's event.</summary>
    public static readonly CloudEventAttribute SegmentAttribute = CloudEventAttribute.CreateExtension("segment", CloudEventAttributeType.Integer);

    /// <summary>Extension attribute carrying the stage a warm-up is for (<see cref="PipelineStage.Name"/>).</summary>
    public static readonly CloudEventAttribute StageAttribute = CloudEventAttribute.CreateExtension("stage", CloudEventAttributeType.String);

    /// <summary>The extension attributes a formatter must know to parse G-Edge events (the trace context's among them).</summary>
    public static IReadOnlyList<CloudEventAttribute> ExtensionAttributes { get; } = [JobStatusAttribute, JobIdAttribute, SegmentAttribute, StageAttribute, .. EventTracing.Attributes];

    /// <summary>The event types G-Edge understands.</summary>
    public static IReadOnlyList<string> Types { get; } = [VideoUploadedType, JobStatusChangedType, SegmentStatusChangedType, StageWarmupType];

    /// <summary>
    /// A <c>video uploaded</c> event. Its id is derived from the object's identity (bucket, key, etag), so the same
    /// upload reported twice is the same event, as CloudEvents' id + source uniqueness intends. Every event carries the
    /// trace context of the span that made it (<see cref="EventTracing"/>), when there is one.
    /// </summary>
    public static CloudEvent CreateVideoUploaded(VideoUploaded upload, Uri source)
    {
        ArgumentNullException.ThrowIfNull(upload);
        return NewEvent(
            $"{upload.Bucket}/{upload.Key}@{upload.ETag}", source, VideoUploadedType, $"{upload.Bucket}/{upload.Key}",
            upload, GEdgeEventJsonContext.Default.VideoUploaded, jobId: null);
    }

    /// <summary>
    /// A <c>job status changed</c> event for <paramref name="jobId"/> now in <paramref name="status"/>, on its
    /// <paramref name="iteration"/>-th attempt (a retried job passes the same status again, as a new event).
    /// </summary>
    public static CloudEvent CreateJobStatusChanged(long jobId, JobStatus status, int iteration, Uri source)
    {
        // One id per job, status and attempt: a duplicated reply carries the same id, a retry a new one.
        var cloudEvent = NewEvent(
            string.Create(CultureInfo.InvariantCulture, $"job-{jobId}-{status}-{iteration}"), source, JobStatusChangedType, JobSubject(jobId),
            new JobStatusChanged(jobId, status), GEdgeEventJsonContext.Default.JobStatusChanged, jobId);
        cloudEvent[JobStatusAttribute] = status.ToString();
        return cloudEvent;
    }

    /// <summary>
    /// A <c>segment status changed</c> event: segment <paramref name="segment"/> of job <paramref name="jobId"/> is now in
    /// <paramref name="status"/>, on the segment's <paramref name="iteration"/>-th attempt.
    /// </summary>
    public static CloudEvent CreateSegmentStatusChanged(long jobId, int segment, JobStatus status, int iteration, Uri source)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(segment);
        // One id per segment, status and attempt, as for a job's events.
        var cloudEvent = NewEvent(
            string.Create(CultureInfo.InvariantCulture, $"job-{jobId}-segment-{segment}-{status}-{iteration}"), source, SegmentStatusChangedType,
            string.Create(CultureInfo.InvariantCulture, $"{JobSubject(jobId)}/segments/{segment}"),
            new SegmentStatusChanged(jobId, segment, status), GEdgeEventJsonContext.Default.SegmentStatusChanged, jobId);
        cloudEvent[JobStatusAttribute] = status.ToString();
        cloudEvent[SegmentAttribute] = segment;
        return cloudEvent;
    }

    /// <summary>
    /// A <c>stage warm-up</c> event: job <paramref name="jobId"/> is on its way to <paramref name="stage"/>. One id per job
    /// and stage, so a repeated warm-up is the same event.
    /// </summary>
    public static CloudEvent CreateStageWarmup(long jobId, PipelineStage stage, Uri source)
    {
        ArgumentNullException.ThrowIfNull(stage);
        var cloudEvent = NewEvent(
            string.Create(CultureInfo.InvariantCulture, $"job-{jobId}-warmup-{stage.Name}"), source, StageWarmupType, JobSubject(jobId),
            new StageWarmup(jobId, stage.Name), GEdgeEventJsonContext.Default.StageWarmup, jobId);
        cloudEvent[StageAttribute] = stage.Name;
        return cloudEvent;
    }

    // What every G-Edge event has: its id, source, type and subject, the time it is made, its JSON data, the job it is
    // about (the jobid attribute, when there is one), and the trace context of the span that made it.
    private static CloudEvent NewEvent<T>(string id, Uri source, string type, string subject, T data, JsonTypeInfo<T> typeInfo, long? jobId)
    {
        var cloudEvent = new CloudEvent(CloudEventsSpecVersion.V1_0, ExtensionAttributes)
        {
            Id = id,
            Source = source,
            Type = type,
            Subject = subject,
            Time = DateTimeOffset.UtcNow,
            DataContentType = "application/json",
            Data = JsonSerializer.SerializeToElement(data, typeInfo),
        };
        if (jobId is { } job)
        {
            cloudEvent[JobIdAttribute] = job.ToString(CultureInfo.InvariantCulture);
        }

        return EventTracing.Stamp(cloudEvent);
    }

    /// <summary>Reads a <c>stage warm-up</c> event; the <c>stage</c> attribute and the data must agree, since the Trigger routed on the attribute.</summary>
    public static StageWarmup ReadStageWarmup(CloudEvent cloudEvent)
    {
        var warmup = ReadData(cloudEvent, StageWarmupType, GEdgeEventJsonContext.Default.StageWarmup);
        if (cloudEvent[StageAttribute] as string != warmup.Stage || PipelineTopology.Stages.All(stage => stage.Name != warmup.Stage))
        {
            throw new InvalidEventException($"The warm-up's 'stage' attribute ('{cloudEvent[StageAttribute]}') must name a stage of the pipeline, as its data does ('{warmup.Stage}').");
        }

        return warmup.JobId > 0 ? warmup : throw new InvalidEventException("The stage warm-up event needs a positive 'jobId'.");
    }

    /// <summary>The subject that names a job in events (<c>jobs/42</c>).</summary>
    public static string JobSubject(long jobId) => string.Create(CultureInfo.InvariantCulture, $"jobs/{jobId}");

    /// <summary>Reads the data of a <c>video uploaded</c> event; throws <see cref="InvalidEventException"/> naming what is wrong.</summary>
    public static VideoUploaded ReadVideoUploaded(CloudEvent cloudEvent)
    {
        var upload = ReadData(cloudEvent, VideoUploadedType, GEdgeEventJsonContext.Default.VideoUploaded);
        if (string.IsNullOrEmpty(upload.User) || string.IsNullOrEmpty(upload.Bucket) || string.IsNullOrEmpty(upload.Key))
        {
            throw new InvalidEventException("The video uploaded event needs 'user', 'bucket' and 'key'.");
        }

        return upload;
    }

    /// <summary>
    /// Reads a <c>job status changed</c> event; the <c>jobstatus</c> attribute and the data must agree, since the
    /// Trigger routed on the attribute.
    /// </summary>
    public static JobStatusChanged ReadJobStatusChanged(CloudEvent cloudEvent)
    {
        var change = ReadData(cloudEvent, JobStatusChangedType, GEdgeEventJsonContext.Default.JobStatusChanged);
        var attribute = cloudEvent[JobStatusAttribute] as string;
        if (attribute is null || !Enum.TryParse<JobStatus>(attribute, out var status) || status != change.Status || !Enum.IsDefined(status))
        {
            throw new InvalidEventException($"The event's 'jobstatus' attribute ('{attribute}') does not name the status in its data ('{change.Status}').");
        }

        return change.JobId > 0 ? change : throw new InvalidEventException("The job status changed event needs a positive 'jobId'.");
    }

    /// <summary>Reads a <c>segment status changed</c> event; the attributes and the data must agree, since the Trigger routed on them.</summary>
    public static SegmentStatusChanged ReadSegmentStatusChanged(CloudEvent cloudEvent)
    {
        var change = ReadData(cloudEvent, SegmentStatusChangedType, GEdgeEventJsonContext.Default.SegmentStatusChanged);
        var attribute = cloudEvent[JobStatusAttribute] as string;
        if (attribute is null || !Enum.TryParse<JobStatus>(attribute, out var status) || status != change.Status || !Enum.IsDefined(status))
        {
            throw new InvalidEventException($"The event's 'jobstatus' attribute ('{attribute}') does not name the status in its data ('{change.Status}').");
        }

        if (cloudEvent[SegmentAttribute] is not int segment || segment != change.Segment)
        {
            throw new InvalidEventException($"The event's 'segment' attribute ('{cloudEvent[SegmentAttribute]}') does not name the segment in its data ({change.Segment}).");
        }

        return change.JobId > 0 && change.Segment >= 0
            ? change
            : throw new InvalidEventException("The segment status changed event needs a positive 'jobId' and a 'segment' from 0.");
    }

    private static T ReadData<T>(CloudEvent cloudEvent, string expectedType, JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        if (cloudEvent.Type != expectedType)
        {
            throw new InvalidEventException($"Expected an event of type '{expectedType}', got '{cloudEvent.Type}'.");
        }

        try
        {
            var data = cloudEvent.Data switch
            {
                JsonElement element => element.Deserialize(typeInfo),
                T typed => typed,
                byte[] bytes => JsonSerializer.Deserialize(bytes, typeInfo),
                string text => JsonSerializer.Deserialize(text, typeInfo),
                null => throw new InvalidEventException($"The '{expectedType}' event has no data."),
                var other => throw new InvalidEventException($"The '{expectedType}' event's data is a {other.GetType().Name}, not JSON."),
            };
            return data ?? throw new InvalidEventException($"The '{expectedType}' event's data is null.");
        }
        catch (JsonException e)
        {
            throw new InvalidEventException($"The '{expectedType}' event's data is not valid: {e.Message}");
        }
    }
}

/// <summary>An event that cannot be processed as it stands (an HTTP host answers 400 with the message).</summary>
public sealed class InvalidEventException(string message) : Exception(message);
