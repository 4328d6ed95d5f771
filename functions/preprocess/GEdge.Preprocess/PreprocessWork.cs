using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using System.Text.Json;
using GEdge.Artifacts;
using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Media;
using GEdge.Stages;
using GEdge.Storage;
using GEdge.Vision;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Preprocess;

/// <summary>Options of the Preprocess stage, bound from configuration section <c>Preprocess</c>.</summary>
public sealed record PreprocessOptions
{
    /// <summary>
    /// Frames per stored chunk. A chunk of 416x416 frames is about 0.5 MB a frame; 32 frames keep a chunk near 16 MB,
    /// small enough to stream and retry, large enough that per-object overhead does not matter.
    /// </summary>
    public int ChunkFrames { get; init; } = 32;

    /// <summary>
    /// How the frames cross to Infer: <see cref="FrameCodec.H264"/>, a compact stream per segment (the default), or
    /// <see cref="FrameCodec.Raw"/>, raw rows in <see cref="ChunkFrames"/>-frame chunks, the reference <c>gedge bench</c>
    /// measures the compact form against.
    /// </summary>
    public FrameCodec FrameCodec { get; init; } = FrameCodec.H264;

    /// <summary>
    /// x264's constant quantizer for <see cref="FrameCodec.H264"/> frames (0-63 at 10 bits, lower is better), chosen for
    /// detections that keep recall and precision of 0.98 against raw frames' on the tests' clips (FrameBoundaryTests)
    /// with a margin. Measured (ultrafast), bytes per frame, recall and precision: 16 walking.mp4 20,113, 0.992, 0.991;
    /// 18 walking.mp4 16,691 (1/17 of raw), 0.988, 0.991, road.mp4 42,191 (1/7: a dashcam's motion in 38 frames, the
    /// first a keyframe), 1.000, 0.988; 20 walking.mp4 14,140, 0.983, 0.989, road.mp4 36,732, 0.976 (one box of 83
    /// short); 22 walking.mp4 12,255, 0.980, 0.990, road.mp4 32,203, 0.988, 0.988.
    /// </summary>
    public int FrameQuality { get; init; } = 18;
}

/// <summary>How Preprocess hands the frames to Infer (<see cref="FrameEncoding"/> names what it wrote).</summary>
public enum FrameCodec
{
    /// <summary>Raw rows, <see cref="FrameEncoding.Raw"/>.</summary>
    Raw,

    /// <summary>An H.264 stream per segment, <see cref="FrameEncoding.H264"/>.</summary>
    H264,
}

/// <summary>How a job's video is cut into segments, bound from configuration section <c>Segments</c>.</summary>
public sealed record SegmentOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Segments";

    /// <summary>
    /// About how many seconds of video a segment holds: the cut falls on the first keyframe at or after each multiple.
    /// 10 s keeps every stage's request short (the slowest, Postprocess, does 10 s of 1080p30 in about 6 s on a 2-core
    /// machine when it has the cores, at about 50 frames/s), so no request comes near Knative's or the Functions host's
    /// limits, while each segment's fixed cost (an ffprobe, ffmpeg decoders and an encoder started, a few objects) stays
    /// small. Measured with `Segments__Seconds=N ./gedge run` on one minute of 1080p30 (1,802 frames) on 2 cores: one
    /// segment 60.1 s, 10 s segments 60.8 s, 5 s segments 73.2 s (each segment's starts cost about 0.7 s of a stage).
    /// </summary>
    public double Seconds { get; init; } = 10;
}

/// <summary>
/// Cuts a job's upload at keyframes into segments (stream copy, the first stage's <see cref="ICutWork"/>), then, one
/// segment per request, lets one ffmpeg process decode the segment and letterbox every frame into the model's input
/// while the frames stream into the work bucket (compact, <see cref="PreprocessOptions.FrameCodec"/>), and writes the
/// segment's frame manifest Infer reads. Input that is not a decodable video ends the job at once with the reason.
/// </summary>
public sealed class PreprocessWork(
    IObjectStore store,
    ModelManifest model,
    IOptions<PreprocessOptions> options,
    IOptions<SegmentOptions> segments,
    ILogger<LetterboxFrameReader> readerLogger) : ICutWork
{
    private readonly LetterboxFrameReader _reader = new(model.Input, readerLogger);
    private const int ReadAheadFrames = 8;
    private readonly int _chunkFrames = Math.Max(1, options.Value.ChunkFrames);
    private readonly PreprocessOptions _options = options.Value.FrameQuality is >= 0 and <= 63
        ? options.Value
        : throw new ArgumentOutOfRangeException(nameof(options), options.Value.FrameQuality, "Preprocess:FrameQuality is x264's quantizer, 0 to 63.");
    private readonly TimeSpan _segmentLength = segments.Value.Seconds > 0
        ? TimeSpan.FromSeconds(segments.Value.Seconds)
        : throw new ArgumentOutOfRangeException(nameof(segments), segments.Value.Seconds, "Segments:Seconds must be positive.");

    /// <inheritdoc />
    public PipelineStage Stage => PipelineTopology.Preprocess;

    /// <inheritdoc />
    public async Task<JobCut> CutAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var (bucket, key) = JobArtifacts.UploadOf(context.Job);
        var artifacts = context.Artifacts;
        LocalFileLease upload;
        try
        {
            upload = await store.GetLocalFileAsync(bucket, key, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException)
        {
            // An upload that is not there will not appear by trying again (deleted, or a notification for an object that
            // never was): the job ends at once with the reason.
            throw new UnprocessableInputException($"The upload {bucket}/{key} does not exist (deleted, or never stored).");
        }

        await using var _ = upload;
        var media = await AnalyseAsync(upload.Path, cancellationToken).ConfigureAwait(false);
        var scratch = Directory.CreateTempSubdirectory($"gedge-cut-{context.Job.Id}-");
        try
        {
            IReadOnlyList<VideoSegment> pieces;
            try
            {
                // The check that the first and last frames decode (a truncated upload) runs beside the cut, which reads
                // no frame: a cut of a broken file may well succeed.
                var verification = VideoProbe.VerifyDecodesAsync(media, cancellationToken);
                var cutting = VideoSegmenter.CutAsync(media, _segmentLength, scratch.FullName, cancellationToken);
                await Task.WhenAll(verification, cutting).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await verification.ConfigureAwait(false);
                pieces = await cutting.ConfigureAwait(false);
            }
            catch (MediaException e) when (e.Kind != MediaErrorKind.ToolMissing)
            {
                throw new UnprocessableInputException(e.Message, e);
            }

            foreach (var piece in pieces)
            {
                var pieceKey = artifacts.Segment(piece.Index).VideoKey;
                await store.UploadFileAsync(artifacts.Buckets.Work, pieceKey, piece.Path, cancellationToken).ConfigureAwait(false);
                context.Written.Add(pieceKey);
            }

            var rate = media.PlaybackRate.IsKnown ? media.PlaybackRate : media.FrameRate;
            var video = new SourceVideo(
                media.Width,
                media.Height,
                rate.ToString(),
                rate.PerSecond,
                (int)Math.Min(int.MaxValue, media.EstimatedFrameCount),
                media.Duration.TotalSeconds,
                media.HasAudio,
                media.VideoCodec)
            {
                StartSeconds = media.VideoStart.TotalSeconds,
            };
            var starts = pieces.Select(p => p.Start.TotalSeconds).ToList();
            var manifest = new SourceManifest(context.Job.Id, model.Name, video, starts);
            await store.WriteAsync(artifacts.Buckets.Work, artifacts.SourceManifestKey, (stream, ct) =>
                JsonSerializer.SerializeAsync(stream, manifest, PipelineJsonContext.Default.SourceManifest, ct), cancellationToken).ConfigureAwait(false);
            context.Written.Add(artifacts.SourceManifestKey);
            return new JobCut(starts, new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["width"] = media.Width.ToString(CultureInfo.InvariantCulture),
                ["height"] = media.Height.ToString(CultureInfo.InvariantCulture),
                ["fps"] = video.FrameRate,
                [JobFields.Model] = model.Name,
            });
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, string>> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var artifacts = context.Artifacts;
        var source = await FrameArtifacts.ReadSourceAsync(store, artifacts.Job, cancellationToken).ConfigureAwait(false);
        await using var piece = await store.GetLocalFileAsync(artifacts.Buckets.Work, artifacts.VideoKey, cancellationToken).ConfigureAwait(false);
        var media = await AnalyseAsync(piece.Path, cancellationToken).ConfigureAwait(false);
        var letterbox = model.Input.LetterboxFor(media.Width, media.Height);
        var chunks = new List<FrameChunk>();
        var expected = (int)Math.Min(int.MaxValue, media.EstimatedFrameCount);
        int frameCount;
        long boundaryBytes;
        try
        {
            (frameCount, boundaryBytes) = _options.FrameCodec == FrameCodec.H264
                ? await WriteStreamAsync(context, media, source.Video.StartSeconds, chunks, expected, cancellationToken).ConfigureAwait(false)
                : await WriteChunksAsync(context, media, source.Video.StartSeconds, chunks, expected, cancellationToken).ConfigureAwait(false);
        }
        catch (MediaException e) when (e.Kind != MediaErrorKind.ToolMissing)
        {
            throw new UnprocessableInputException(e.Message, e);
        }

        if (frameCount == 0)
        {
            throw new UnprocessableInputException($"Segment {artifacts.Index} of the video has no frames that could be decoded.");
        }

        var manifest = new FrameManifest(context.Job.Id, model.Name, source.Video, letterbox, FrameBand.Of(letterbox), frameCount, chunks)
        {
            Encoding = _options.FrameCodec == FrameCodec.H264 ? FrameEncoding.H264 : FrameEncoding.Raw,
        };
        await store.WriteAsync(artifacts.Buckets.Work, artifacts.FrameManifestKey, (stream, ct) =>
            JsonSerializer.SerializeAsync(stream, manifest, PipelineJsonContext.Default.FrameManifest, ct), cancellationToken).ConfigureAwait(false);
        context.Written.Add(artifacts.FrameManifestKey);

        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [SegmentFields.Frames] = frameCount.ToString(CultureInfo.InvariantCulture),
            [FrameBytesField] = boundaryBytes.ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>The segment's field with the bytes its frames took in the work bucket (the objects' sizes as the store wrote them), what crossed to Infer.</summary>
    public const string FrameBytesField = "frame_bytes";

    // One ffmpeg process letterboxes and encodes the segment's bands into one H.264 object (FrameEncoding.H264), frame
    // times from the same pass.
    private async Task<(int Frames, long Bytes)> WriteStreamAsync(StageContext context, MediaInfo media, double timeOrigin, List<FrameChunk> chunks, int expected, CancellationToken cancellationToken)
    {
        var artifacts = context.Artifacts;
        var key = artifacts.FramesVideoKey;
        IReadOnlyList<TimeSpan> encoded = [];
        var written = await store.WriteAsync(artifacts.Buckets.Work, key, async (stream, ct) =>
        {
            encoded = await _reader.EncodeBandsAsync(
                media,
                stream,
                _options.FrameQuality,
                count => context.Progress.Report(new StageProgress(context.Job.Id, Stage.Working, count, Math.Max(expected, count))),
                ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        context.Written.Add(key);
        var timestamps = encoded.Select(t => Math.Round(t.TotalSeconds - timeOrigin, 6)).ToList();
        if (timestamps.Count > 0)
        {
            chunks.Add(new FrameChunk(key, 0, timestamps.Count, timestamps));
        }

        return (timestamps.Count, written.Size);
    }

    // Streams the letterboxed frames from ffmpeg's pipe into chunk objects, frame by frame: memory holds one frame.
    // Frame times count from the video's first frame (timeOrigin, in the file's own timestamps).
    private async Task<(int Frames, long Bytes)> WriteChunksAsync(StageContext context, MediaInfo media, double timeOrigin, List<FrameChunk> chunks, int expected, CancellationToken cancellationToken)
    {
        var artifacts = context.Artifacts;
        var band = FrameBand.Of(model.Input.LetterboxFor(media.Width, media.Height));
        var frameCount = 0;
        var bytes = 0L;
        var frames = ReadAheadAsync(_reader.ReadAsync(media, cancellationToken), ReadAheadFrames, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            var more = await frames.MoveNextAsync().ConfigureAwait(false);
            while (more)
            {
                var chunkKey = artifacts.FrameChunkKey(chunks.Count);
                var first = frameCount;
                var timestamps = new List<double>(_chunkFrames);
                var written = await store.WriteAsync(artifacts.Buckets.Work, chunkKey, async (stream, ct) =>
                {
                    while (more && timestamps.Count < _chunkFrames)
                    {
                        using (var frame = frames.Current)
                        {
                            await stream.WriteAsync(frame.Pixels.Slice(band.Offset, band.Bytes), ct).ConfigureAwait(false);
                            timestamps.Add(Math.Round(frame.Timestamp.TotalSeconds - timeOrigin, 6));
                        }

                        frameCount++;
                        context.Progress.Report(new StageProgress(context.Job.Id, Stage.Working, frameCount, Math.Max(expected, frameCount)));
                        more = await frames.MoveNextAsync().ConfigureAwait(false);
                    }
                }, cancellationToken).ConfigureAwait(false);
                context.Written.Add(chunkKey);
                bytes += written.Size;
                chunks.Add(new FrameChunk(chunkKey, first, timestamps.Count, timestamps));
            }
        }
        finally
        {
            await frames.DisposeAsync().ConfigureAwait(false);
        }

        return (frameCount, bytes);
    }

    // ffmpeg decodes on every core while this stage writes: with a few frames read ahead on another task, a slow write
    // does not leave ffmpeg blocked behind a full pipe.
    private static async IAsyncEnumerable<LetterboxedFrame> ReadAheadAsync(
        IAsyncEnumerable<LetterboxedFrame> frames,
        int depth,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var queue = Channel.CreateBounded<LetterboxedFrame>(new BoundedChannelOptions(depth) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(
            async () =>
            {
                try
                {
                    await foreach (var frame in frames.WithCancellation(stop.Token).ConfigureAwait(false))
                    {
                        try
                        {
                            await queue.Writer.WriteAsync(frame, stop.Token).ConfigureAwait(false);
                        }
                        catch
                        {
                            frame.Dispose();
                            throw;
                        }
                    }

                    queue.Writer.Complete();
                }
                catch (Exception e)
                {
                    queue.Writer.Complete(e);
                }
            },
            CancellationToken.None);
        try
        {
            await foreach (var frame in queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return frame;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await producer.ConfigureAwait(false);
            while (queue.Reader.TryRead(out var unread))
            {
                unread.Dispose();
            }
        }
    }

    private static async Task<MediaInfo> AnalyseAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return VideoProbe.RequireVideo(await VideoProbe.AnalyseAsync(path, cancellationToken).ConfigureAwait(false));
        }
        catch (MediaException e) when (e.Kind != MediaErrorKind.ToolMissing)
        {
            throw new UnprocessableInputException(e.Message, e);
        }
    }
}
