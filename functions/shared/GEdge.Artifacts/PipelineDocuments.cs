using System.Text.Json;
using System.Text.Json.Serialization;
using GEdge.Vision;

namespace GEdge.Artifacts;

/// <summary>What the probe found out about an uploaded video.</summary>
public sealed record SourceVideo(
    int Width,
    int Height,
    string FrameRate,
    double Fps,
    int Frames,
    double DurationSeconds,
    bool HasAudio,
    string Codec)
{
    /// <summary>
    /// The timestamp of the video's first frame in the file, in seconds: frame times in G-Edge's documents count from it,
    /// so a clip cut from a longer recording starts at 0.
    /// </summary>
    public double StartSeconds { get; init; }
}

/// <summary>
/// The first stage's record of a job's cut: the source video's facts (its rate is the one every annotated segment is
/// encoded at, so they join evenly), the model the job is for, and where each segment starts.
/// </summary>
public sealed record SourceManifest(long JobId, string Model, SourceVideo Video, IReadOnlyList<double> SegmentStarts);

/// <summary>One chunk of model-ready frames: <see cref="Frames"/> frames starting at <see cref="FirstFrame"/>, with their timestamps in seconds.</summary>
public sealed record FrameChunk(string Key, int FirstFrame, int Frames, IReadOnlyList<double> Timestamps);

/// <summary>
/// The Preprocess stage's hand-over to Infer: the source video's facts, the letterbox every frame went through,
/// the model the frames are ready for, and where the frame chunks are.
/// </summary>
/// <remarks>
/// A stored frame is the band of rows <see cref="FrameBand"/> names, not the whole model input: the rows above and
/// below the picture are all padding, one known value, so writing them would only cost disk and time (for a 16:9
/// video and a square input, 44% of every frame). Columns of padding (a portrait video) stay in the band.
/// </remarks>
public sealed record FrameManifest(
    long JobId,
    string Model,
    SourceVideo Video,
    LetterboxTransform Letterbox,
    FrameBand FrameBand,
    int FrameCount,
    IReadOnlyList<FrameChunk> Chunks);

/// <summary>The rows of a letterboxed frame that hold picture: <see cref="Rows"/> rows from <see cref="FirstRow"/>.</summary>
public sealed record FrameBand(int FirstRow, int Rows, int RowBytes)
{
    /// <summary>The band of a letterbox: the rows the scaled picture covers.</summary>
    public static FrameBand Of(LetterboxTransform letterbox)
    {
        ArgumentNullException.ThrowIfNull(letterbox);
        return new FrameBand(letterbox.PadTop, letterbox.ScaledHeight, letterbox.InputWidth * 3);
    }

    /// <summary>Bytes of one stored frame.</summary>
    [JsonIgnore]
    public int Bytes => Rows * RowBytes;

    /// <summary>Where the band starts in a whole frame, in bytes.</summary>
    [JsonIgnore]
    public int Offset => FirstRow * RowBytes;
}

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
[JsonSerializable(typeof(SourceManifest))]
[JsonSerializable(typeof(FrameDetections))]
[JsonSerializable(typeof(JobSummary))]
[JsonSerializable(typeof(VideoFacts))]
public sealed partial class PipelineJsonContext : JsonSerializerContext;
