using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using GEdge.Vision;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GEdge.Media;

/// <summary>
/// Decodes a video or still image with ONE ffmpeg process whose own filter graph scales, converts and pads every frame
/// into the model's input (the exact integers of a <see cref="LetterboxTransform"/>), and streams the raw frames over a
/// pipe: memory stays at a few frames whatever the video's length, and no pixel is touched by C#.
/// </summary>
public sealed partial class LetterboxFrameReader
{
    // The tail of ffmpeg's error output kept for a failure message.
    private const int ErrorLinesKept = 8;

    private readonly ILogger _logger;

    /// <summary>Creates a reader producing frames for a model input.</summary>
    public LetterboxFrameReader(ModelInput input, ILogger<LetterboxFrameReader>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        Input = input;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The model input the frames are made for.</summary>
    public ModelInput Input { get; }

    /// <summary>
    /// The filter graph for a letterbox: scale to the transform's exact size, convert to the model's channel order, pad with
    /// the pad value at the transform's offset, and <c>showinfo</c> (checksums off: they cost a pass over every frame) to report each frame's timestamp on stderr.
    /// </summary>
    public static string BuildFilterGraph(LetterboxTransform letterbox, ModelInput input)
    {
        ArgumentNullException.ThrowIfNull(letterbox);
        ArgumentNullException.ThrowIfNull(input);
        return FilterGraph(letterbox, input, input.Height, letterbox.PadTop);
    }

    /// <summary>
    /// The filter graph for a letterboxed frame's band, the rows the picture covers: as <see cref="BuildFilterGraph"/>, but
    /// padded to the input's width only, since the rows above and below the picture are padding Infer restores itself.
    /// </summary>
    public static string BuildBandFilterGraph(LetterboxTransform letterbox, ModelInput input)
    {
        ArgumentNullException.ThrowIfNull(letterbox);
        ArgumentNullException.ThrowIfNull(input);
        return FilterGraph(letterbox, input, letterbox.ScaledHeight, 0);
    }

    private static string FilterGraph(LetterboxTransform letterbox, ModelInput input, int paddedHeight, int padTop)
    {
        if (letterbox.InputWidth != input.Width || letterbox.InputHeight != input.Height)
        {
            throw new ArgumentException(
                $"The letterbox targets {letterbox.InputWidth}x{letterbox.InputHeight} but the model input is {input.Width}x{input.Height}.", nameof(letterbox));
        }

        var pixelFormat = PixelFormatOf(input.ChannelOrder);

        // format comes before pad, not after: pad on a subsampled format (yuv420p) rounds odd offsets down to the chroma
        // grid, which would shift the picture by a pixel from where the transform says it is; on bgr24/rgb24 it is exact.
        // Asking scale for the packed RGB format also lets swscale resize and convert in one pass.
        return string.Create(
            CultureInfo.InvariantCulture,
            $"scale={letterbox.ScaledWidth}:{letterbox.ScaledHeight}:flags=bilinear,format={pixelFormat},"
            + $"pad={input.Width}:{paddedHeight}:{letterbox.PadLeft}:{padTop}:color=0x{input.PadValue:x2}{input.PadValue:x2}{input.PadValue:x2},showinfo=checksum=0");
    }

    /// <summary>The whole ffmpeg command line (without the binary) that <see cref="ReadAsync(string, LetterboxTransform, CancellationToken)"/> runs.</summary>
    public static IReadOnlyList<string> BuildArguments(string path, LetterboxTransform letterbox, ModelInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return BuildArguments(path, BuildFilterGraph(letterbox, input), input.ChannelOrder);
    }

    private static string[] BuildArguments(string path, string filterGraph, ChannelOrder channelOrder) =>
    [
        "-hide_banner", "-nostdin", "-nostats",

        // info level is where showinfo reports frames; the level tag lets errors be told from the rest.
        "-loglevel", "level+info",

        // Timestamps as the file has them: a segment cut from a longer video keeps its place in it (ffmpeg would
        // otherwise count each file from its own start).
        "-copyts",
        "-i", path,
        "-map", "0:v:0", "-an", "-sn", "-dn",
        "-vf", filterGraph,

        // passthrough: every decoded frame comes out exactly once, never duplicated or dropped to fit a constant rate.
        "-fps_mode", "passthrough",
        "-f", "rawvideo", "-pix_fmt", PixelFormatOf(channelOrder),
        "pipe:1",
    ];

    /// <summary>Reads the frames of a probed file, letterboxed as the model input's placement says.</summary>
    public IAsyncEnumerable<LetterboxedFrame> ReadAsync(MediaInfo media, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(media);
        return ReadAsync(media.Path, Input.LetterboxFor(media.Width, media.Height), media.FrameRate, media.VideoStart, cancellationToken);
    }

    /// <summary>Reads the frames of a file with a given letterbox (whose source size must be the decoded frame size).</summary>
    public IAsyncEnumerable<LetterboxedFrame> ReadAsync(string path, LetterboxTransform letterbox, CancellationToken cancellationToken = default) =>
        ReadAsync(path, letterbox, default, TimeSpan.Zero, cancellationToken);

    /// <summary>The ffmpeg command line (without the binary) that <see cref="EncodeBandsAsync"/> runs.</summary>
    public static IReadOnlyList<string> BuildBandEncoderArguments(string path, LetterboxTransform letterbox, ModelInput input, int quality)
    {
        ArgumentNullException.ThrowIfNull(input);
        return
        [
            "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info", "-copyts",
            "-i", path,
            "-map", "0:v:0", "-an", "-sn", "-dn",
            "-vf", BuildBandFilterGraph(letterbox, input),
            "-fps_mode", "passthrough",

            // x264 in 4:4:4 at 10 bits, so that colour keeps the band's full resolution, an odd band height needs no
            // rounding, and the RGB to YUV conversion and back costs almost nothing (at 8 bits alone it caps the band at
            // 52 dB PSNR; at a tenth of raw's bytes 10 bits measured 3.6 dB better than 8). The band is scaled in RGB as
            // the raw path scales it, and converted after: scaling straight into YUV saved 15% of ffmpeg's time but moved
            // the pixels enough to cost 2 points of recall. Its ultrafast preset: the encode is what Preprocess adds to the
            // decode (ffmpeg's CPU for walking.mp4's 341 frames: 0.70 s raw, 0.93 s ultrafast, 1.44 s superfast, whose
            // 30% smaller stream did not pay for a Preprocess 0.63 as fast as raw's). A frame must decode to the same
            // pixels whichever segment it falls in, so that a video cut into segments is detected exactly as if whole: a
            // constant quantizer (no rate control carrying state from frame to frame), and a keyframe exactly where the
            // source has one and nowhere else (segments are cut at the source's keyframes, so every segment starts a
            // group of pictures in both cases, and each group is coded the same).
            "-c:v", "libx264", "-preset", "ultrafast", "-qp", quality.ToString(CultureInfo.InvariantCulture), "-pix_fmt", "yuv444p10le",
            "-force_key_frames", "source", "-x264-params", "keyint=infinite:scenecut=0",
            "-f", "h264", "pipe:1",
        ];
    }

    /// <summary>
    /// Letterboxes every frame of a probed file as <see cref="ReadAsync(MediaInfo, CancellationToken)"/> does, keeps each
    /// frame's band of picture rows, and lets the same ffmpeg process encode the bands as an H.264 elementary stream
    /// copied to <paramref name="destination"/>: no raw frame leaves ffmpeg. <paramref name="quality"/> is x264's constant
    /// quantizer (0-63 at 10 bits, lower is better). <paramref name="onFrame"/> hears the count of frames so far as they
    /// go into the encoder.
    /// </summary>
    /// <returns>Each frame's timestamp, in order (showinfo's, with the same fallbacks as the frames ReadAsync yields).</returns>
    public async Task<IReadOnlyList<TimeSpan>> EncodeBandsAsync(MediaInfo media, Stream destination, int quality, Action<int>? onFrame, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(media);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfNegative(quality);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 63);
        var path = media.Path;
        if (!File.Exists(path))
        {
            throw new MediaException(path, MediaErrorKind.FileMissing, $"{path} does not exist.");
        }

        var letterbox = Input.LetterboxFor(media.Width, media.Height);
        var filterGraph = BuildBandFilterGraph(letterbox, Input);
        var arguments = BuildBandEncoderArguments(path, letterbox, Input, quality);
        LogStarting(path, letterbox.SourceWidth, letterbox.SourceHeight, Input.Width, letterbox.ScaledHeight, filterGraph);
        var shown = new List<TimeSpan?>();
        using var process = FfmpegProcess.Start("band encoder", path, arguments, FfmpegPipes.Output, line =>
        {
            if (!TryParseShowinfo(line, out var timestamp))
            {
                return ErrorOf(line);
            }

            int count;
            lock (shown)
            {
                shown.Add(timestamp);
                count = shown.Count;
            }

            onFrame?.Invoke(count);
            return null;
        }, ErrorLinesKept);
        var completed = false;
        try
        {
            await process.Output.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
            var exitCode = await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (exitCode != 0)
            {
                await FailAsync(process, process.StandardErrorCompletion, path, $"ffmpeg exited with code {exitCode}").ConfigureAwait(false);
            }

            completed = true;
        }
        finally
        {
            if (!completed)
            {
                process.Kill();
            }
        }

        var timestamps = new List<TimeSpan>(shown.Count);
        foreach (var timestamp in shown)
        {
            timestamps.Add(Placed(timestamp, timestamps.Count > 0 ? timestamps[^1] : null, media.FrameRate, media.VideoStart));
        }

        return timestamps;
    }

    // A frame's time: showinfo's, or, for a frame it printed without one (NOPTS), one frame period (of the probed rate)
    // after the frame before it, or the video stream's start for the first frame, so that a segment cut from the middle
    // of a video keeps its place in it.
    private static TimeSpan Placed(TimeSpan? shown, TimeSpan? previous, FrameRate rate, TimeSpan videoStart) =>
        shown ?? (previous is { } before ? before + rate.TimeOf(1) : videoStart);

    private async IAsyncEnumerable<LetterboxedFrame> ReadAsync(
        string path,
        LetterboxTransform letterbox,
        FrameRate fallbackRate,
        TimeSpan videoStart,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(letterbox);
        if (!File.Exists(path))
        {
            throw new MediaException(path, MediaErrorKind.FileMissing, $"{path} does not exist.");
        }

        var frameBytes = Input.FrameByteCount;
        var filterGraph = BuildFilterGraph(letterbox, Input);
        var arguments = BuildArguments(path, filterGraph, Input.ChannelOrder);
        LogStarting(path, letterbox.SourceWidth, letterbox.SourceHeight, Input.Width, Input.Height, filterGraph);

        // Timestamps come from the same pass: showinfo prints each frame's pts_time on stderr before ffmpeg writes the frame
        // to stdout, and the process's stderr reader turns those lines into a queue consumed in step with the frames. Only
        // when a frame has no timestamp (showinfo says NOPTS) is it computed (Placed).
        var timestamps = Channel.CreateUnbounded<TimeSpan?>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var process = FfmpegProcess.Start("letterbox decoder", path, arguments, FfmpegPipes.Output,
            line => Diagnose(line, timestamps.Writer), ErrorLinesKept);
        var stderrTask = CompleteAfterAsync(process.StandardErrorCompletion, timestamps.Writer);
        var stdout = process.Output;
        var completed = false;
        TimeSpan? previous = null;
        try
        {
            for (long index = 0; ; index++)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(frameBytes);
                int read;
                try
                {
                    read = await stdout.ReadAtLeastAsync(buffer.AsMemory(0, frameBytes), frameBytes, throwOnEndOfStream: false, cancellationToken)
                        .ConfigureAwait(false);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }

                if (read < frameBytes)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    if (read > 0)
                    {
                        await FailAsync(process, stderrTask, path, $"ffmpeg stopped in the middle of frame {index} ({read} of {frameBytes} bytes)").ConfigureAwait(false);
                    }

                    break;
                }

                var timestamp = Placed(await NextTimestampAsync(timestamps.Reader, cancellationToken).ConfigureAwait(false), previous, fallbackRate, videoStart);
                previous = timestamp;
                yield return new LetterboxedFrame(buffer, frameBytes, index, timestamp, letterbox);
            }

            var exitCode = await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            await stderrTask.ConfigureAwait(false);
            if (exitCode != 0)
            {
                await FailAsync(process, stderrTask, path, $"ffmpeg exited with code {exitCode}").ConfigureAwait(false);
            }

            completed = true;
        }
        finally
        {
            if (!completed)
            {
                // The consumer stopped early, was cancelled or failed: nobody reads the pipe any more, so end ffmpeg now.
                process.Kill();
            }

            await stderrTask.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static async ValueTask<TimeSpan?> NextTimestampAsync(ChannelReader<TimeSpan?> reader, CancellationToken cancellationToken)
    {
        // stderr can end (ffmpeg closed it) before the last frames are read; then the fallback applies.
        if (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false) && reader.TryRead(out var timestamp))
        {
            return timestamp;
        }

        return null;
    }

    private static async Task FailAsync(FfmpegProcess process, Task stderrTask, string path, string what)
    {
        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        await stderrTask.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var errors = process.StandardErrorLines;
        var detail = errors.Count == 0 ? "no error message" : string.Join("; ", errors);
        throw new MediaException(path, MediaErrorKind.DecodeFailed, $"{Path.GetFileName(path)} could not be decoded: {what}: {detail}.");
    }

    private static async Task CompleteAfterAsync(Task stderr, ChannelWriter<TimeSpan?> timestamps)
    {
        try
        {
            await stderr.ConfigureAwait(false);
        }
        finally
        {
            timestamps.TryComplete();
        }
    }

    // Each stderr line: a showinfo frame's timestamp is queued, an error is logged and kept for a failure message.
    private string? Diagnose(string line, ChannelWriter<TimeSpan?> timestamps)
    {
        if (TryParseShowinfo(line, out var timestamp))
        {
            timestamps.TryWrite(timestamp);
            return null;
        }

        return ErrorOf(line);
    }

    // An error line is logged and kept for a failure message; any other line is dropped.
    private string? ErrorOf(string line)
    {
        if (line.Contains("[error]", StringComparison.Ordinal) || line.Contains("[fatal]", StringComparison.Ordinal))
        {
            var text = FfmpegProcess.WithoutContext(line);
            LogFfmpegError(text);
            return text;
        }

        return null;
    }

    /// <summary>Parses a showinfo frame line (<c>[Parsed_showinfo_3 @ 0x..] [info] n:  12 pts: 6144 pts_time:0.48 ...</c>).</summary>
    internal static bool TryParseShowinfo(string line, out TimeSpan? timestamp)
    {
        timestamp = null;
        if (!line.Contains("Parsed_showinfo", StringComparison.Ordinal))
        {
            return false;
        }

        var at = line.IndexOf(" n:", StringComparison.Ordinal);
        var ptsAt = line.IndexOf("pts_time:", StringComparison.Ordinal);
        if (at < 0 || ptsAt < 0)
        {
            // showinfo's other lines (configuration, side data) carry no frame.
            return false;
        }

        var value = line.AsSpan(ptsAt + "pts_time:".Length).TrimStart();
        var end = value.IndexOf(' ');
        if (end >= 0)
        {
            value = value[..end];
        }

        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            timestamp = TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));
        }

        return true;
    }

    private static string PixelFormatOf(ChannelOrder order) => order switch
    {
        ChannelOrder.Bgr => "bgr24",
        ChannelOrder.Rgb => "rgb24",
        _ => throw new ArgumentOutOfRangeException(nameof(order), order, "Unknown channel order."),
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "Decoding {Path} ({SourceWidth}x{SourceHeight}) into {InputWidth}x{InputHeight} with {FilterGraph}")]
    private partial void LogStarting(string path, int sourceWidth, int sourceHeight, int inputWidth, int inputHeight, string filterGraph);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ffmpeg: {Error}")]
    private partial void LogFfmpegError(string error);
}
