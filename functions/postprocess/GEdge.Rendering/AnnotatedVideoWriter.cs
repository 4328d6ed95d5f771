using System.Buffers;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using GEdge.Media;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Rendering;

/// <summary>
/// Draws detections onto every frame of a video and encodes the result as H.264 MP4 with the original's size, frame rate,
/// frame count and audio.
/// </summary>
/// <remarks>
/// One ffmpeg process decodes the original to raw planar Y'CbCr on its stdout; the frames are painted in place, plane by
/// plane, in a few reused buffers; a second ffmpeg process encodes them from its stdin and copies the original's audio.
/// Memory is a handful of frames whatever the video's length, and detections are pulled frame by frame from a stream.
/// </remarks>
public sealed partial class AnnotatedVideoWriter
{
    // Three buffers keep all three parties busy: ffmpeg decodes into one, one is being painted, one is being encoded.
    private const int FramesInFlight = 3;

    // The frame buffers' own pool: it keeps at most two segments' worth of each size (a postprocess pod takes two
    // segments at once, knative/services.yaml), and nothing per thread. The shared pool also keeps one array per size in
    // every thread that returned one, until a full collection trims it: with a 1080p frame's 4 MB bucket and segments
    // finishing on whichever thread-pool thread, the large object heap of `gedge run` grew by about 16 MB over a
    // two-minute 1080p video and more over ten.
    private static readonly ArrayPool<byte> s_frameBuffers = ArrayPool<byte>.Create(maxArrayLength: 64 * 1024 * 1024, maxArraysPerBucket: 2 * FramesInFlight);

    // What a failed process was doing, in its exception's message ("... exited with code 1 while annotating <path>").
    private const string Annotating = "annotating";

    private static readonly string[] s_x264Presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"];

    private readonly AnnotatedVideoOptions _options;
    private readonly ILogger<AnnotatedVideoWriter> _logger;

    /// <summary>Creates the writer with its encoder settings.</summary>
    public AnnotatedVideoWriter(IOptions<AnnotatedVideoOptions> options, ILogger<AnnotatedVideoWriter> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _options = Validated(options.Value);
        _logger = logger;
    }

    /// <summary>The encoder settings in use.</summary>
    public AnnotatedVideoOptions Options => _options;

    /// <summary>Writes <paramref name="outputPath"/>: <paramref name="sourcePath"/> with <paramref name="overlays"/> drawn on it.</summary>
    /// <param name="sourcePath">The original video.</param>
    /// <param name="overlays">Detections per frame, in ascending frame order; frames with nothing to draw may be left out.</param>
    /// <param name="outputPath">The MP4 to write; it appears only once complete, and is replaced if it exists.</param>
    /// <param name="progress">Told the number of frames encoded so far, after each frame.</param>
    /// <param name="frameRate">
    /// The rate to play at instead of the source's: a piece of a longer video is encoded at the whole video's rate, so
    /// that the pieces join into one evenly timed stream (<see cref="JoinAsync"/>).
    /// </param>
    /// <param name="cancellationToken">Kills both ffmpeg processes and leaves no output.</param>
    /// <exception cref="MediaException">ffprobe or ffmpeg failed; the message carries ffmpeg's last error lines.</exception>
    /// <exception cref="InvalidDataException">The overlays are out of order or name frames the video does not have.</exception>
    public async Task<AnnotatedVideo> WriteAsync(
        string sourcePath,
        IAsyncEnumerable<FrameOverlay> overlays,
        string outputPath,
        IProgress<int>? progress = null,
        FrameRate? frameRate = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sourcePath);
        ArgumentNullException.ThrowIfNull(overlays);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        var source = Path.GetFullPath(sourcePath);
        var output = Path.GetFullPath(outputPath);
        if (!File.Exists(source))
        {
            throw new FileNotFoundException($"The video to annotate, {source}, does not exist.", source);
        }

        if (string.Equals(source, output, StringComparison.Ordinal))
        {
            throw new ArgumentException($"The annotated video cannot replace its own source ({source}): ffmpeg would overwrite what it is reading.", nameof(outputPath));
        }

        var stopwatch = Stopwatch.StartNew();
        var video = await SourceVideo.ProbeAsync(source, cancellationToken).ConfigureAwait(false);
        if (frameRate is { } rate)
        {
            video = video with { FrameRate = rate.IsKnown ? rate : throw new ArgumentOutOfRangeException(nameof(frameRate), rate, "The frame rate must be known.") };
        }

        var frames = await WriteInPlaceAsync(output, partial => RenderAsync(video, overlays, partial, progress, cancellationToken)).ConfigureAwait(false);
        var result = new AnnotatedVideo(output, video.Width, video.Height, video.FrameRate, frames, stopwatch.Elapsed);
        LogWritten(source, output, frames, video.Width, video.Height, video.FrameRate, result.Elapsed.TotalSeconds, result.FramesPerSecond);
        return result;
    }

    /// <summary>
    /// Joins annotated pieces of <paramref name="originalPath"/>, each written by <see cref="WriteAsync"/> at the
    /// original's rate, into one video by stream copy, with the original's audio muxed in once: the result is what
    /// <see cref="WriteAsync"/> would have made of the whole original.
    /// </summary>
    /// <param name="originalPath">The original, for its audio, its rate and when its video starts.</param>
    /// <param name="pieces">The annotated pieces in order, each with its frame count.</param>
    /// <param name="outputPath">The MP4 to write; it appears only once complete.</param>
    /// <param name="cancellationToken">Kills ffmpeg and leaves no output.</param>
    /// <exception cref="MediaException">ffprobe or ffmpeg failed.</exception>
    public async Task<AnnotatedVideo> JoinAsync(string originalPath, IReadOnlyList<AnnotatedPiece> pieces, string outputPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(originalPath);
        ArgumentNullException.ThrowIfNull(pieces);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        if (pieces.Count == 0)
        {
            throw new ArgumentException("There are no pieces to join.", nameof(pieces));
        }

        var stopwatch = Stopwatch.StartNew();
        var original = await SourceVideo.ProbeAsync(Path.GetFullPath(originalPath), cancellationToken).ConfigureAwait(false);
        var output = Path.GetFullPath(outputPath);
        var list = Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.{Guid.NewGuid():N}.concat");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        await File.WriteAllTextAsync(list, FfmpegCommands.ConcatList(pieces, original.FrameRate), cancellationToken).ConfigureAwait(false);
        try
        {
            await WriteInPlaceAsync(output, async partial =>
            {
                using var joiner = FfmpegProcess.Start("joiner", original.Path, FfmpegCommands.Join(original, list, _options, partial));
                var exitCode = await joiner.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                return exitCode == 0 ? 0 : throw joiner.Failure(exitCode, "joining the annotated pieces of");
            }).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(list);
        }

        var frames = pieces.Sum(p => p.FrameCount);
        LogJoined(original.Path, output, pieces.Count, frames, stopwatch.Elapsed.TotalSeconds);
        // Each piece was written at the original's decoded size (WriteAsync draws on frames as ffmpeg decodes them,
        // rotation applied), which is the original's as SourceVideo gives it.
        return new AnnotatedVideo(output, original.Width, original.Height, original.FrameRate, frames, stopwatch.Elapsed);
    }

    // Written beside the target and moved into place at the end, so a reader never sees a half-written video.
    private static async Task<T> WriteInPlaceAsync<T>(string output, Func<string, Task<T>> write)
    {
        var directory = Path.GetDirectoryName(output) ?? throw new ArgumentException($"{output} names no file.", nameof(output));
        Directory.CreateDirectory(directory);
        var partial = Path.Combine(directory, $".{Path.GetFileName(output)}.{Guid.NewGuid():N}.partial");
        try
        {
            var result = await write(partial).ConfigureAwait(false);
            File.Move(partial, output, overwrite: true);
            return result;
        }
        finally
        {
            File.Delete(partial);
        }
    }

    private async Task<int> RenderAsync(SourceVideo video, IAsyncEnumerable<FrameOverlay> overlays, string outputPath, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        using var decoder = FfmpegProcess.Start("decoder", video.Path, FfmpegCommands.Decode(video), FfmpegPipes.Output);
        using var encoder = FfmpegProcess.Start("encoder", video.Path, FfmpegCommands.Encode(video, _options, outputPath), FfmpegPipes.Input);
        LogStarted(video.Path, video.Width, video.Height, video.FrameRate, video.AudioCodecs.Count, decoder.Id, encoder.Id);

        var layout = FrameLayout.For(video.Width, video.Height);
        var matrix = YuvMatrix.For(video.Color, video.Height);
        var free = Channel.CreateBounded<byte[]>(FramesInFlight);
        var painted = Channel.CreateBounded<byte[]>(FramesInFlight);
        using var painter = new DetectionPainter(video.Width, video.Height);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? firstFailure = null;

        // Whatever fails first is the story; everything after it (broken pipes, cancelled waits) is a consequence.
        void Abort(Exception cause)
        {
            Interlocked.CompareExchange(ref firstFailure, cause, null);
            stop.Cancel();
            decoder.Kill();
            encoder.Kill();
        }

        using var cancellation = cancellationToken.Register(() => Abort(new OperationCanceledException(cancellationToken)));
        // A frame of 1080p is 3 MB, on the large object heap: rented, so that a job's many segments reuse the same few
        // buffers instead of leaving three for the GC per segment (which let a 10-minute job's heap grow well past a
        // short one's before a full collection came).
        var buffers = Enumerable.Range(0, FramesInFlight).Select(_ => s_frameBuffers.Rent(layout.FrameBytes)).ToList();
        buffers.ForEach(buffer => free.Writer.TryWrite(buffer));
        var decoding = Task.Run(() => DecodeAndPaintAsync(video, layout, matrix, decoder, overlays, painter, free.Reader, painted.Writer, Abort, stop.Token), stop.Token);
        var encoding = Task.Run(() => EncodeAsync(video, layout, encoder, painted.Reader, free.Writer, progress, Abort, stop.Token), stop.Token);
        try
        {
            await Task.WhenAll(decoding, encoding).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Abort(e);
            cancellationToken.ThrowIfCancellationRequested();
            ExceptionDispatchInfo.Capture(firstFailure ?? e).Throw();
        }
        finally
        {
            // Both loops have ended (WhenAll waits for each, failed or not), so no buffer is in use any more.
            buffers.ForEach(buffer => s_frameBuffers.Return(buffer));
        }

        var frames = await decoding.ConfigureAwait(false);
        var exitCode = await encoder.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw encoder.Failure(exitCode, Annotating);
        }

        return frames;
    }

    // Reads each frame into a free buffer, paints its overlay and hands it on; returns the number of frames decoded.
    private static async Task<int> DecodeAndPaintAsync(
        SourceVideo video,
        FrameLayout layout,
        YuvMatrix matrix,
        FfmpegProcess decoder,
        IAsyncEnumerable<FrameOverlay> overlays,
        DetectionPainter painter,
        ChannelReader<byte[]> free,
        ChannelWriter<byte[]> painted,
        Action<Exception> abort,
        CancellationToken cancellationToken)
    {
        try
        {
            var frameBytes = layout.FrameBytes;
            var pending = new OverlayCursor(overlays.GetAsyncEnumerator(cancellationToken));
            await using (pending.ConfigureAwait(false))
            {
                var index = 0;
                while (true)
                {
                    var buffer = await free.ReadAsync(cancellationToken).ConfigureAwait(false);
                    var read = await decoder.Output.ReadAtLeastAsync(buffer.AsMemory(0, frameBytes), frameBytes, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                    if (read < frameBytes)
                    {
                        await EndOfFramesAsync(video, layout, decoder, index, read, cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    if (await pending.ForFrameAsync(index).ConfigureAwait(false) is { Detections.Count: > 0 } overlay)
                    {
                        painter.Paint(buffer.AsSpan(0, frameBytes), layout, matrix, overlay.Detections);
                    }

                    await painted.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
                    index++;
                }

                if (index == 0)
                {
                    throw new MediaException(video.Path, MediaErrorKind.DecodeFailed, $"{video.Path} decoded to no frames at all: there is nothing to annotate.");
                }

                if (await pending.BeyondAsync(index).ConfigureAwait(false) is { } extra)
                {
                    throw new InvalidDataException(
                        $"The detections name frame {extra.FrameIndex}, but {video.Path} decodes to {index} frames: they belong to another video.");
                }

                painted.Complete();
                return index;
            }
        }
        catch (Exception e)
        {
            abort(e);
            throw;
        }
    }

    private static async Task EndOfFramesAsync(SourceVideo video, FrameLayout layout, FfmpegProcess decoder, int index, int partialBytes, CancellationToken cancellationToken)
    {
        // The decoder closed its output, so it is exiting: its exit code says whether the video ended or broke.
        var exitCode = await decoder.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (exitCode != 0 && !decoder.WasKilled)
        {
            throw decoder.Failure(exitCode, Annotating);
        }

        if (partialBytes > 0)
        {
            throw new MediaException(video.Path, MediaErrorKind.DecodeFailed,
                $"The ffmpeg decoder's output ended {partialBytes} bytes into frame {index} of {video.Path} (a {layout.Width}x{layout.Height} {layout.PixelFormat} frame is {layout.FrameBytes} bytes).");
        }
    }

    // Writes painted frames to the encoder in order, returns each buffer for reuse, then closes the encoder's input.
    private static async Task EncodeAsync(
        SourceVideo video,
        FrameLayout layout,
        FfmpegProcess encoder,
        ChannelReader<byte[]> painted,
        ChannelWriter<byte[]> free,
        IProgress<int>? progress,
        Action<Exception> abort,
        CancellationToken cancellationToken)
    {
        try
        {
            var frameBytes = layout.FrameBytes;
            var written = 0;
            try
            {
                await foreach (var buffer in painted.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    await encoder.Input.WriteAsync(buffer.AsMemory(0, frameBytes), cancellationToken).ConfigureAwait(false);
                    free.TryWrite(buffer);
                    progress?.Report(++written);
                }

                await encoder.Input.FlushAsync(cancellationToken).ConfigureAwait(false);
                encoder.CloseInput();
            }
            catch (IOException e)
            {
                // A broken pipe means the encoder is gone; its own words on why beat "Broken pipe".
                var exitCode = await encoder.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                if (exitCode != 0 && !encoder.WasKilled)
                {
                    throw encoder.Failure(exitCode, Annotating, e);
                }

                throw;
            }
        }
        catch (Exception e)
        {
            abort(e);
            throw;
        }
    }

    private static AnnotatedVideoOptions Validated(AnnotatedVideoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!s_x264Presets.Contains(options.Preset))
        {
            throw new ArgumentException($"Rendering:Preset is '{options.Preset}'; libx264 knows {string.Join(", ", s_x264Presets)}.", nameof(options));
        }

        if (options.ConstantRateFactor is < 0 or > 51)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ConstantRateFactor, "Rendering:ConstantRateFactor must be between 0 and 51.");
        }

        if (options.AacBitrateKbps is < 32 or > 512)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.AacBitrateKbps, "Rendering:AacBitrateKbps must be between 32 and 512.");
        }

        return options;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Annotating {Source}: {Width}x{Height} at {FrameRate} fps, {AudioStreams} audio streams; decoder pid {DecoderPid}, encoder pid {EncoderPid}")]
    private partial void LogStarted(string source, int width, int height, FrameRate frameRate, int audioStreams, int decoderPid, int encoderPid);

    [LoggerMessage(Level = LogLevel.Information, Message = "Joined {Pieces} annotated pieces of {Source} into {Output}: {Frames} frames in {Seconds:F2} s")]
    private partial void LogJoined(string source, string output, int pieces, int frames, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Annotated {Source} into {Output}: {Frames} frames {Width}x{Height} at {FrameRate} fps in {Seconds:F2} s ({FramesPerSecond:F1} frames/s)")]
    private partial void LogWritten(string source, string output, int frames, int width, int height, FrameRate frameRate, double seconds, double framesPerSecond);

    /// <summary>Walks a sparse, ascending stream of overlays alongside the frames as they are decoded.</summary>
    private sealed class OverlayCursor(IAsyncEnumerator<FrameOverlay> overlays) : IAsyncDisposable
    {
        private FrameOverlay? _next;
        private bool _ended;
        private int _lastIndex = -1;

        /// <summary>The overlay of frame <paramref name="index"/>, or null when the stream has none for it.</summary>
        public async ValueTask<FrameOverlay?> ForFrameAsync(int index)
        {
            if (_next is null && !await AdvanceAsync().ConfigureAwait(false))
            {
                return null;
            }

            if (_next!.FrameIndex != index)
            {
                return null;
            }

            var overlay = _next;
            _next = null;
            return overlay;
        }

        /// <summary>The first overlay at or after <paramref name="frameCount"/>, which no decoded frame can take.</summary>
        public async ValueTask<FrameOverlay?> BeyondAsync(int frameCount)
        {
            if (_next is null && !await AdvanceAsync().ConfigureAwait(false))
            {
                return null;
            }

            return _next!.FrameIndex >= frameCount ? _next : null;
        }

        public ValueTask DisposeAsync() => overlays.DisposeAsync();

        private async ValueTask<bool> AdvanceAsync()
        {
            if (_ended)
            {
                return false;
            }

            if (!await overlays.MoveNextAsync().ConfigureAwait(false))
            {
                _ended = true;
                return false;
            }

            var overlay = overlays.Current ?? throw new InvalidDataException($"The detections stream holds a null entry after frame {_lastIndex}.");
            if (overlay.FrameIndex <= _lastIndex)
            {
                throw new InvalidDataException(
                    $"The detections must list frames in ascending order, each once; frame {overlay.FrameIndex} came after frame {_lastIndex}.");
            }

            _lastIndex = overlay.FrameIndex;
            _next = overlay;
            return true;
        }
    }
}
