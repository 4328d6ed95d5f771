using System.Globalization;
using System.Text.Json;
using GEdge.JobTable;
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
    private readonly int _chunkFrames = Math.Max(1, options.Value.ChunkFrames);

    /// <inheritdoc />
    public JobStatus Consumes => JobStatus.Enqueue;

    /// <inheritdoc />
    public JobStatus Working => JobStatus.Preprocessing;

    /// <inheritdoc />
    public JobStatus Completes => JobStatus.Preprocessing_complete;

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, string>> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var (bucket, key) = JobArtifacts.UploadOf(context.Job);
        var artifacts = context.Artifacts;
        await using var upload = await store.GetLocalFileAsync(bucket, key, cancellationToken).ConfigureAwait(false);
        var media = await ProbeAsync(upload.Path, cancellationToken).ConfigureAwait(false);
        var letterbox = model.Input.LetterboxFor(media.Width, media.Height);
        var expected = (int)Math.Min(int.MaxValue, media.EstimatedFrameCount);

        var chunks = new List<FrameChunk>();
        var frameCount = 0;
        var frames = _reader.ReadAsync(media, cancellationToken).GetAsyncEnumerator(cancellationToken);
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
                    // The chunk streams frame by frame from ffmpeg's pipe to storage: memory holds one frame, not a chunk.
                    while (more && timestamps.Count < _chunkFrames)
                    {
                        using (var frame = frames.Current)
                        {
                            await stream.WriteAsync(frame.Pixels, ct).ConfigureAwait(false);
                            timestamps.Add(frame.Timestamp.TotalSeconds);
                        }

                        frameCount++;
                        context.Progress.Report(new StageProgress(context.Job.Id, Working, frameCount, Math.Max(expected, frameCount)));
                        more = await frames.MoveNextAsync().ConfigureAwait(false);
                    }
                }, cancellationToken).ConfigureAwait(false);
                chunks.Add(new FrameChunk(chunkKey, first, timestamps.Count, timestamps));
            }
        }
        catch (MediaException e) when (e.Kind != MediaErrorKind.ToolMissing)
        {
            throw new UnprocessableInputException(e.Message, e);
        }
        finally
        {
            await frames.DisposeAsync().ConfigureAwait(false);
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
        var manifest = new FrameManifest(context.Job.Id, model.Name, video, letterbox, model.Input.FrameByteCount, frameCount, chunks);
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

    private static async Task<MediaInfo> ProbeAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await VideoProbe.ProbeVideoAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (MediaException e) when (e.Kind != MediaErrorKind.ToolMissing)
        {
            throw new UnprocessableInputException(e.Message, e);
        }
    }
}
