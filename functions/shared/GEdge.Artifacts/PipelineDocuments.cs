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
/// the model the frames are ready for, how the frames are encoded, and where the frame chunks are.
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
    IReadOnlyList<FrameChunk> Chunks)
{
    /// <summary>
    /// How the chunks hold the frames. A manifest without it was written before the encoding was recorded, when every
    /// chunk was raw.
    /// </summary>
    public FrameEncoding Encoding { get; init; } = FrameEncoding.Raw;
}

/// <summary>
/// How the frames of a segment cross from Preprocess to Infer: a codec, and the version of what Preprocess writes with it.
/// Infer reads the encodings it knows (<see cref="Known"/>) and refuses any other with the reason, rather than misread
/// bytes a Preprocess of another release wrote (during a rolling update, say). A change to what a version means is a
/// new version.
/// </summary>
/// <remarks>
/// Candidates, measured on walking.mp4's band (341 frames of 416x234 RGB, 292,032 bytes each; ffmpeg 5.1 on one thread
/// of this 2-core machine), in bytes per frame and encode time per frame: PNG 95,119 (lossless; 13 ms), FFV1 58,209
/// (lossless; 5 ms), x264 qp 0 31,722 (not lossless once RGB is YUV), libx264rgb crf 18 23,139, JPEG (mjpeg q 2) 20,205
/// (1.5 ms), x264 intra-only qp 18 24,266 (ultrafast; 0.7 ms) or 19,809 (superfast; 1.8 ms), x264 with inter prediction
/// 7,000-17,000 (0.7-2 ms). No lossless codec comes near a tenth of raw, so the boundary is lossy, held to detecting
/// what raw frames detect (recall and precision of 0.98, FrameBoundaryTests), which decided the rest: at 8 bits the RGB
/// to YUV conversion and back alone caps a frame at 52 dB PSNR, and at qp 12-18 (8 bits) recall on raw's boxes was
/// 0.94-0.98; at 10 bits, on road.mp4 at about a tenth of raw, PSNR is 45.2 dB against 41.6 dB at 8 bits. What won:
/// x264 ultrafast, YUV 4:4:4 at 10 bits, constant quantizer 18 (PreprocessOptions.FrameQuality; the figures for others
/// are there), keyframes where the source has them: 16,691 bytes a frame on walking.mp4 (1/17 of raw), 42,191 on
/// road.mp4 (1/7). A slower preset made a third less at the same quality (superfast, quantizer 21: 10,322 and 26,643)
/// but nearly doubled ffmpeg's time in Preprocess, whose rate fell to 0.63 of the raw path's against 0.9 asked for
/// (LetterboxFrameReader.BuildBandEncoderArguments). The keyframes follow the source's, where segments are cut, and the
/// quantizer is constant, so a frame decodes to the same pixels whether its video was cut or not (crf's rate control,
/// which carries state across frames, would break that). Decoding takes about a millisecond a frame at this size, next
/// to 10-17 ms of inference.
/// </remarks>
public sealed record FrameEncoding(string Codec, int Version)
{
    /// <summary>Raw rows in the model's channel order, the band of each frame after the other.</summary>
    public static FrameEncoding Raw { get; } = new("raw", 1);

    /// <summary>
    /// The segment's bands as one H.264 elementary stream (Annex B; YUV 4:4:4 at 10 bits, constant quantizer, a keyframe
    /// where the source has one), one chunk per segment; decoded back to the model's channel order by ffmpeg on Infer's side.
    /// </summary>
    public static FrameEncoding H264 { get; } = new("h264", 1);

    /// <summary>The encodings this release reads.</summary>
    public static IReadOnlyList<FrameEncoding> Known { get; } = [Raw, H264];

    /// <inheritdoc />
    public override string ToString() => $"{Codec}/{Version}";
}

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
