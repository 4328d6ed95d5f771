using System.Text.Json;
using System.Text.Json.Serialization;
using GEdge.Artifacts;
using GEdge.Stages;

namespace GEdge.Postprocess;

/// <summary>The <c>detections.json</c> document: the job, the model, the video's facts and every frame's detections.</summary>
/// <remarks>
/// <see cref="Frames"/> is a stream, not a list: <see cref="JsonSerializer.SerializeAsync{TValue}(Stream, TValue, System.Text.Json.Serialization.Metadata.JsonTypeInfo{TValue}, CancellationToken)"/>
/// writes an <see cref="IAsyncEnumerable{T}"/> element by element and flushes as its buffer fills, so the document is
/// written frame by frame and memory does not grow with the video's length.
/// </remarks>
/// <param name="JobId">The job's number.</param>
/// <param name="Model">The model that found the detections.</param>
/// <param name="Video">The source video's size, rate and frame count.</param>
/// <param name="Frames">Every frame's detections, in frame order.</param>
public sealed record DetectionsDocument(long JobId, string Model, VideoFacts Video, IAsyncEnumerable<FrameDetections> Frames);

/// <summary>Source-generated JSON for <see cref="DetectionsDocument"/>, with the options of <see cref="PipelineJsonContext"/>.</summary>
/// <remarks>
/// Metadata only, no fast-path serializer: once a few documents have come out small, <c>SerializeAsync</c> takes a
/// type's fast path, which writes synchronously and so cannot write an <see cref="IAsyncEnumerable{T}"/> (every job after
/// the first few in one process failed with "can only be serialized using async serialization methods").
/// </remarks>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false, GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(DetectionsDocument))]
public sealed partial class DetectionsJsonContext : JsonSerializerContext;
