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
}

/// <summary>
/// Probes the upload, then lets one ffmpeg process decode it and letterbox every frame into the model's input while
/// the frames stream into chunk objects; writes the frame manifest Infer reads. Input that is not a decodable video ends
/// the job at once with the reason.
/// </summary>
public sealed class PreprocessWork(
    IObjectStore store,
    ModelManifest model,
    IOptions<PreprocessOptions> options,
    ILogger<LetterboxFrameReader> readerLogger) : IStageWork
{
    private readonly LetterboxFrameReader _reader = new(model.Input, readerLogger);
    private const int ReadAheadFrames = 8;
    private readonly int _chunkFrames = Math.Max(1, options.Value.ChunkFrames);

    /// <inheritdoc />
    public PipelineStage Stage => PipelineTopology.Preprocess;

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, string>> RunAsync(StageContext context, CancellationToken cancellationToken)
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
        var letterbox = model.Input.LetterboxFor(media.Width, media.Height);
        var expected = (int)Math.Min(int.MaxValue, media.EstimatedFrameCount);

        // The check that the first and last frames decode (a truncated upload) runs beside the decoding instead of
        // before it: it costs a process start, which is most of what this stage adds to ffmpeg's own time. When it
        // fails, the reading stops and its reason, the precise one, is the job's.
        using var verificationFailed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var verification = VerifyAsync(media, verificationFailed, cancellationToken);
        var chunks = new List<FrameChunk>();
        var frameCount = 0;
        try
        {
            try
            {
                frameCount = await WriteChunksAsync(context, media, chunks, expected, verificationFailed.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is MediaException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // When both failed, the verification's reason is the one to give.
                await verification.ConfigureAwait(false);
                throw;
            }

            await verification.ConfigureAwait(false);
        }
        catch (MediaException e) when (e.Kind != MediaErrorKind.ToolMissing)
        {
            throw new UnprocessableInputException(e.Message, e);
        }

        if (frameCount == 0)
        {
            throw new UnprocessableInputException($"The video '{Path.GetFileName(key)}' has no frames that could be decoded.");
        }

        var video = new SourceVideo(
            media.Width,
            media.Height,
            media.FrameRate.ToString(),
            media.FrameRate.PerSecond,
            frameCount,
            media.Duration.TotalSeconds,
            media.HasAudio,
            media.VideoCodec);
        var manifest = new FrameManifest(context.Job.Id, model.Name, video, letterbox, FrameBand.Of(letterbox), frameCount, chunks);
        await store.WriteAsync(artifacts.Buckets.Work, artifacts.FrameManifestKey, (stream, ct) =>
            JsonSerializer.SerializeAsync(stream, manifest, PipelineJsonContext.Default.FrameManifest, ct), cancellationToken).ConfigureAwait(false);

        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["frames"] = frameCount.ToString(CultureInfo.InvariantCulture),
            ["width"] = media.Width.ToString(CultureInfo.InvariantCulture),
            ["height"] = media.Height.ToString(CultureInfo.InvariantCulture),
            ["fps"] = video.FrameRate,
            ["model"] = model.Name,
        };
    }

    // Streams the letterboxed frames from ffmpeg's pipe into chunk objects, frame by frame: memory holds one frame.
    private async Task<int> WriteChunksAsync(StageContext context, MediaInfo media, List<FrameChunk> chunks, int expected, CancellationToken cancellationToken)
    {
        var artifacts = context.Artifacts;
        var band = FrameBand.Of(model.Input.LetterboxFor(media.Width, media.Height));
        var frameCount = 0;
        var frames = ReadAheadAsync(_reader.ReadAsync(media, cancellationToken), ReadAheadFrames, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            var more = await frames.MoveNextAsync().ConfigureAwait(false);
            while (more)
            {
                var chunkKey = artifacts.FrameChunkKey(chunks.Count);
                var first = frameCount;
                var timestamps = new List<double>(_chunkFrames);
                await store.WriteAsync(artifacts.Buckets.Work, chunkKey, async (stream, ct) =>
                {
                    while (more && timestamps.Count < _chunkFrames)
                    {
                        using (var frame = frames.Current)
                        {
                            await stream.WriteAsync(frame.Pixels.Slice(band.Offset, band.Bytes), ct).ConfigureAwait(false);
                            timestamps.Add(frame.Timestamp.TotalSeconds);
                        }

                        frameCount++;
                        context.Progress.Report(new StageProgress(context.Job.Id, Stage.Working, frameCount, Math.Max(expected, frameCount)));
                        more = await frames.MoveNextAsync().ConfigureAwait(false);
                    }
                }, cancellationToken).ConfigureAwait(false);
                chunks.Add(new FrameChunk(chunkKey, first, timestamps.Count, timestamps));
            }
        }
        finally
        {
            await frames.DisposeAsync().ConfigureAwait(false);
        }

        return frameCount;
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

    private static async Task VerifyAsync(MediaInfo media, CancellationTokenSource stopReading, CancellationToken cancellationToken)
    {
        try
        {
            await VideoProbe.VerifyDecodesAsync(media, cancellationToken).ConfigureAwait(false);
        }
        catch (MediaException)
        {
            await stopReading.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }
}
