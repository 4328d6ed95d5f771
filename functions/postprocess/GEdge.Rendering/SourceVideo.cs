using FFMpegCore;
using GEdge.Media;

namespace GEdge.Rendering;

/// <summary>What the annotated copy must reproduce of the original: picture size, rate, colour, aspect and audio.</summary>
/// <param name="Path">The original video.</param>
/// <param name="VideoStreamIndex">The stream (index in the file) whose frames are drawn on.</param>
/// <param name="Width">Width of decoded frames, with the display rotation that ffmpeg applies while decoding.</param>
/// <param name="Height">Height of decoded frames, rotation applied.</param>
/// <param name="FrameRate">The rate the annotated video plays at.</param>
/// <param name="VideoOffset">When the video stream starts relative to the file's start, to keep audio in sync.</param>
/// <param name="Color">The YCbCr matrix, range, primaries and transfer the original is tagged with.</param>
/// <param name="SampleAspectRatio">The pixel aspect ratio (<c>N:D</c>) when it is not square, else null.</param>
/// <param name="AudioCodecs">The codec of each audio stream, in file order; empty when the original is silent.</param>
public sealed record SourceVideo(
    string Path,
    int VideoStreamIndex,
    int Width,
    int Height,
    FrameRate FrameRate,
    TimeSpan VideoOffset,
    ColorTags Color,
    string? SampleAspectRatio,
    IReadOnlyList<string> AudioCodecs)
{
    /// <summary>Probes the original with ffprobe (through <see cref="VideoProbe"/>, which honours the configured binary folder).</summary>
    /// <exception cref="MediaException">ffprobe is missing, the file is not media, or it has no usable video.</exception>
    public static async Task<SourceVideo> ProbeAsync(string path, CancellationToken cancellationToken) =>
        Describe(path, await VideoProbe.FfprobeAsync(path, cancellationToken).ConfigureAwait(false));

    internal static SourceVideo Describe(string path, IMediaAnalysis analysis)
    {
        var video = analysis.PrimaryVideoStream;
        if (video is null || video.Width is not > 0 || video.Height is not > 0)
        {
            throw new MediaException(path, MediaErrorKind.NoVideoStream, $"{path} has no video stream with a known picture size to draw on.");
        }

        FFProbeStream? raw = null;
        var audioCodecs = new List<string>();
        foreach (var stream in analysis.Raw.Streams)
        {
            if (stream.Index == video.Index)
            {
                raw = stream;
            }
            else if (stream.CodecType == "audio")
            {
                audioCodecs.Add(stream.CodecName ?? "unknown");
            }
        }

        var frameRate = ChooseFrameRate(FrameRate.TryParse(raw?.FrameRate), FrameRate.TryParse(raw?.AvgFrameRate))
            ?? throw new MediaException(path, MediaErrorKind.NoFrameRate, $"{path} states no frame rate (r_frame_rate {raw?.FrameRate}, avg_frame_rate {raw?.AvgFrameRate}).");

        // ffmpeg turns frames upright while decoding, so a portrait phone video arrives with width and height swapped.
        var quarterTurn = Math.Abs(video.Rotation) % 180 == 90;
        var offset = video.StartTime - analysis.Format.StartTime;
        return new SourceVideo(
            path,
            video.Index,
            quarterTurn ? video.Height.Value : video.Width.Value,
            quarterTurn ? video.Width.Value : video.Height.Value,
            frameRate,
            offset > TimeSpan.Zero ? offset : TimeSpan.Zero,
            new ColorTags(Known(raw?.ColorSpace), Known(raw?.ColorRange), Known(raw?.ColorPrimaries), Known(raw?.ColorTransfer)),
            raw?.SampleAspectRatio is { } sar && sar != "1:1" && sar != "0:1" && sar != "N/A" ? sar : null,
            audioCodecs);
    }

    /// <summary>The rate the copy plays at: <see cref="FrameRate.ForPlayback"/>, the rule every copy of a video shares.</summary>
    internal static FrameRate? ChooseFrameRate(FrameRate? real, FrameRate? average) => FrameRate.ForPlayback(real, average);

    private static string? Known(string? tag) => string.IsNullOrEmpty(tag) || tag == "unknown" || tag == "unspecified" ? null : tag;
}

/// <summary>Colour tags as ffprobe names them (<c>bt709</c>, <c>tv</c>, ...); null where the file does not say.</summary>
public sealed record ColorTags(string? Space, string? Range, string? Primaries, string? Transfer);
