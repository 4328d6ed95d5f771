using System.Globalization;
using GEdge.Media;

namespace GEdge.Rendering;

/// <summary>
/// The ffmpeg command lines of the Postprocess stage. The annotated video and the ffmpeg-only benchmark take their
/// encoder and audio arguments from the same methods, so the benchmark compares like with like.
/// </summary>
public static class FfmpegCommands
{
    // Audio codecs the MP4 muxer takes as they are and that common players decode. Anything else (PCM, FLAC, Vorbis,
    // and whatever a user's camera invents) is re-encoded to AAC: the original's sound matters, its exact bits do not.
    private static readonly HashSet<string> s_mp4AudioCodecs = new(StringComparer.Ordinal) { "aac", "mp3", "mp2", "ac3", "eac3", "opus", "alac" };

    /// <summary>
    /// 4:2:0 where the picture allows it, the format every player decodes. H.264 cannot code an odd width or height in
    /// 4:2:0 (chroma is subsampled by two and even the SPS crop works in two-pixel units), and padding or scaling would
    /// change the size, so odd-sized videos are coded 4:4:4 (High 4:4:4 Predictive) to keep their exact size.
    /// </summary>
    public static string OutputPixelFormat(int width, int height) =>
        width % 2 == 0 && height % 2 == 0 ? "yuv420p" : "yuv444p";

    /// <summary>
    /// Decodes the original's video stream to raw planar Y'CbCr frames on stdout, in the pixel format the encoder takes.
    /// </summary>
    /// <remarks>
    /// Frames travel as the video's own Y'CbCr, not RGB: an H.264 source passes through untouched, with no conversion to
    /// RGB and back and 1.5 bytes a pixel on each pipe instead of 4. Piping walking.mp4 (960x540) through two ffmpeg
    /// processes cost 40% more CPU than ffmpeg alone as BGRA and 9% more as yuv420p. Boxes are drawn on the planes with
    /// colours converted by the source's own matrix (<see cref="YuvMatrix"/>).
    /// </remarks>
    public static List<string> Decode(SourceVideo source)
    {
        List<string> arguments = [.. Quiet, "-i", source.Path, "-map", $"0:{source.VideoStreamIndex}", "-an", "-sn", "-dn",
            // Every decoded frame comes out exactly once: no frame is dropped or duplicated to fit a rate.
            "-fps_mode", "passthrough"];
        if (ScaleRange(source.Color.Range) is { } range)
        {
            // A full-range (JPEG-style) source would otherwise be squeezed into limited range on the way to yuv420p,
            // while its tags still said full.
            arguments.AddRange(["-vf", $"scale=in_range={range}:out_range={range}"]);
        }

        // avioflags direct: each frame goes to the pipe in a few large writes, not through a 32 KiB buffer in dozens.
        arguments.AddRange(["-pix_fmt", OutputPixelFormat(source.Width, source.Height), "-avioflags", "direct", "-f", "rawvideo", "pipe:1"]);
        return arguments;
    }

    /// <summary>Encodes raw frames from stdin to H.264 MP4, with the original's audio as a second input.</summary>
    public static List<string> Encode(SourceVideo source, AnnotatedVideoOptions options, string outputPath)
    {
        var pixelFormat = OutputPixelFormat(source.Width, source.Height);
        List<string> arguments = [.. Quiet,
            "-f", "rawvideo", "-pix_fmt", pixelFormat,
            "-s", string.Create(CultureInfo.InvariantCulture, $"{source.Width}x{source.Height}"),
            "-framerate", source.FrameRate.ToString()];
        if (source.VideoOffset > TimeSpan.Zero)
        {
            arguments.AddRange(["-itsoffset", source.VideoOffset.TotalSeconds.ToString("0.######", CultureInfo.InvariantCulture)]);
        }

        arguments.AddRange(["-i", "pipe:0"]);
        var hasAudio = source.AudioCodecs.Count > 0;
        if (hasAudio)
        {
            // The original again, for its audio only: ffmpeg demuxes it without decoding the video a second time.
            arguments.AddRange(["-i", source.Path, "-map", "0:v", "-map", "1:a"]);
        }
        else
        {
            arguments.AddRange(["-map", "0:v"]);
        }

        arguments.AddRange(["-fps_mode", "passthrough"]);
        if (source.SampleAspectRatio is { } sar)
        {
            // Raw frames carry no pixel aspect. setsar reads an expression, where ':' would end the option.
            arguments.AddRange(["-vf", $"setsar={sar.Replace(':', '/')}"]);
        }

        arguments.AddRange(VideoEncoding(options, pixelFormat));
        AddTag(arguments, "-colorspace", source.Color.Space);
        AddTag(arguments, "-color_range", source.Color.Range);
        AddTag(arguments, "-color_primaries", source.Color.Primaries);
        AddTag(arguments, "-color_trc", source.Color.Transfer);
        if (hasAudio)
        {
            arguments.AddRange(AudioEncoding(source, options));
        }

        arguments.AddRange(Container(outputPath));
        return arguments;
    }

    /// <summary>
    /// Joins annotated pieces (listed by <see cref="ConcatList"/>) by stream copy and muxes the original's audio in once,
    /// with the same audio rules and video offset as <see cref="Encode"/>.
    /// </summary>
    public static List<string> Join(SourceVideo original, string concatListPath, AnnotatedVideoOptions options, string outputPath)
    {
        ArgumentNullException.ThrowIfNull(original);
        List<string> arguments = [.. Quiet];
        if (original.VideoOffset > TimeSpan.Zero)
        {
            arguments.AddRange(["-itsoffset", original.VideoOffset.TotalSeconds.ToString("0.######", CultureInfo.InvariantCulture)]);
        }

        arguments.AddRange(["-f", "concat", "-safe", "0", "-i", concatListPath]);
        var hasAudio = original.AudioCodecs.Count > 0;
        arguments.AddRange(hasAudio ? ["-i", original.Path, "-map", "0:v", "-map", "1:a"] : ["-map", "0:v"]);
        arguments.AddRange(["-c:v", "copy"]);
        if (hasAudio)
        {
            arguments.AddRange(AudioEncoding(original, options));
        }

        arguments.AddRange(Container(outputPath));
        return arguments;
    }

    /// <summary>
    /// The concat demuxer's list of annotated pieces, each with its exact duration (its frames at
    /// <paramref name="frameRate"/>). Without the durations the demuxer places each piece after the one before by the
    /// MP4's own duration, in milliseconds, and the frame times drift at the joins (seen as a 0.5 ms step at 30000/1001).
    /// Each duration is the difference of rounded running totals, so the rounding never accumulates.
    /// </summary>
    public static string ConcatList(IReadOnlyList<AnnotatedPiece> pieces, FrameRate frameRate)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        if (!frameRate.IsKnown)
        {
            throw new ArgumentOutOfRangeException(nameof(frameRate), frameRate, "The frame rate must be known.");
        }

        var list = new System.Text.StringBuilder("ffconcat version 1.0\n");
        long frames = 0;
        foreach (var piece in pieces)
        {
            var start = Microseconds(frames, frameRate);
            frames += piece.FrameCount;
            // The demuxer's quoting: inside single quotes, a quote is written '\''.
            list.Append("file '").Append(Path.GetFullPath(piece.Path).Replace("'", "'\\''", StringComparison.Ordinal)).Append("'\n");
            list.Append(CultureInfo.InvariantCulture, $"duration {Microseconds(frames, frameRate) - start}us\n");
        }

        return list.ToString();
    }

    private static long Microseconds(long frames, FrameRate rate) =>
        (long)Math.Round((decimal)frames * rate.Denominator * 1_000_000m / rate.Numerator, MidpointRounding.AwayFromZero);

    /// <summary>The benchmark's reference: ffmpeg alone decoding and encoding with the same encoder and audio settings.</summary>
    public static List<string> Transcode(SourceVideo source, AnnotatedVideoOptions options, string outputPath)
    {
        var pixelFormat = OutputPixelFormat(source.Width, source.Height);
        List<string> arguments = [.. Quiet, "-i", source.Path, "-map", $"0:{source.VideoStreamIndex}"];
        if (source.AudioCodecs.Count > 0)
        {
            arguments.AddRange(["-map", "0:a"]);
        }

        arguments.AddRange(["-fps_mode", "passthrough"]);
        arguments.AddRange(VideoEncoding(options, pixelFormat));
        if (source.AudioCodecs.Count > 0)
        {
            arguments.AddRange(AudioEncoding(source, options));
        }

        arguments.AddRange(Container(outputPath));
        return arguments;
    }

    /// <summary>Whether an audio codec goes into MP4 as it is.</summary>
    public static bool CopiesIntoMp4(string audioCodec) => s_mp4AudioCodecs.Contains(audioCodec);

    private static string[] Quiet => ["-hide_banner", "-nostdin", "-loglevel", "error"];

    private static string[] VideoEncoding(AnnotatedVideoOptions options, string pixelFormat) =>
        ["-c:v", "libx264", "-preset", options.Preset, "-crf", options.ConstantRateFactor.ToString(CultureInfo.InvariantCulture), "-pix_fmt", pixelFormat];

    private static List<string> AudioEncoding(SourceVideo source, AnnotatedVideoOptions options)
    {
        var allCopy = true;
        foreach (var codec in source.AudioCodecs)
        {
            allCopy &= CopiesIntoMp4(codec);
        }

        if (allCopy)
        {
            return ["-c:a", "copy"];
        }

        var bitrate = string.Create(CultureInfo.InvariantCulture, $"{options.AacBitrateKbps}k");
        List<string> arguments = [];
        for (var i = 0; i < source.AudioCodecs.Count; i++)
        {
            var stream = i.ToString(CultureInfo.InvariantCulture);
            arguments.AddRange(CopiesIntoMp4(source.AudioCodecs[i])
                ? [$"-c:a:{stream}", "copy"]
                : [$"-c:a:{stream}", "aac", $"-b:a:{stream}", bitrate]);
        }

        return arguments;
    }

    // faststart moves the index to the front so a browser can play the result while it downloads.
    private static string[] Container(string outputPath) => ["-movflags", "+faststart", "-f", "mp4", "-y", outputPath];

    private static void AddTag(List<string> arguments, string option, string? value)
    {
        if (value is not null)
        {
            arguments.AddRange([option, value]);
        }
    }

    private static string? ScaleRange(string? colorRange) => colorRange switch
    {
        "tv" => "limited",
        "pc" => "full",
        _ => null,
    };
}
