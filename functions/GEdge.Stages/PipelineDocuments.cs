using System.Text.Json;
using System.Text.Json.Serialization;
using GEdge.Vision;

namespace GEdge.Stages;

/// <summary>What the probe found out about an uploaded video.</summary>
public sealed record SourceVideo(
    int Width,
    int Height,
    string FrameRate,
    double Fps,
    int Frames,
    double DurationSeconds,
    bool HasAudio,
    string Codec);

/// <summary>One chunk of model-ready frames: <see cref="Frames"/> frames starting at <see cref="FirstFrame"/>, with their timestamps in seconds.</summary>
public sealed record FrameChunk(string Key, int FirstFrame, int Frames, IReadOnlyList<double> Timestamps);

/// <summary>
/// The Preprocess stage's hand-over to Infer: the source video's facts, the letterbox every frame went through,
/// the model the frames are ready for, and where the frame chunks are.
/// </summary>
public sealed record FrameManifest(
    long JobId,
    string Model,
    SourceVideo Video,
    LetterboxTransform Letterbox,
    int FrameBytes,
    int FrameCount,
    IReadOnlyList<FrameChunk> Chunks);

/// <summary>The detections of one frame: one line of Infer's output, one entry of <c>detections.json</c>.</summary>
public sealed record FrameDetections(int Index, double Time, IReadOnlyList<Detection> Detections);

/// <summary>The <c>video</c> block of <c>detections.json</c>.</summary>
public sealed record VideoFacts(int Width, int Height, double Fps, int Frames);

/// <summary>Per-class figures of <c>summary.json</c>.</summary>
public sealed record ClassSummary(string Label, int ClassId, int Detections, int FramesPresent, int PeakInOneFrame);

/// <summary>The <c>summary.json</c> document.</summary>
public sealed record JobSummary(
    long JobId,
    string Model,
    VideoFacts Video,
    IReadOnlyList<ClassSummary> Classes,
    IReadOnlyDictionary<string, double> StageSeconds,
    IReadOnlyDictionary<string, string> Job);

/// <summary>Source-generated JSON for every document the stages exchange or publish.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(FrameManifest))]
[JsonSerializable(typeof(FrameDetections))]
[JsonSerializable(typeof(JobSummary))]
[JsonSerializable(typeof(VideoFacts))]
public sealed partial class PipelineJsonContext : JsonSerializerContext;
