using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GEdge.Artifacts;
using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Media;
using GEdge.Metrics;
using GEdge.Stages;
using GEdge.Storage;
using GEdge.Vision;
using GEdge.Vision.Onnx;

namespace GEdge.Infer;

/// <summary>
/// Streams a segment's model-ready frames (raw chunks, or a compact stream decoded on the way: <see cref="FrameEncoding"/>)
/// through the detector and writes one line of detections per frame, in the source frame's pixels. The detector is the
/// process's single session; frames go through it in batches of its <see cref="ObjectDetector.MaxBatchSize"/>.
/// </summary>
public sealed class InferWork(IObjectStore store, ObjectDetector detector, GEdgeMetrics metrics) : IStageWork
{
    private static readonly byte[] s_newLine = "\n"u8.ToArray();

    /// <inheritdoc />
    public PipelineStage Stage => PipelineTopology.Infer;

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, string>> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var artifacts = context.Artifacts;
        var manifest = await FrameArtifacts.ReadManifestAsync(store, artifacts, cancellationToken).ConfigureAwait(false);
        var band = manifest.FrameBand;
        if (!FrameEncoding.Known.Contains(manifest.Encoding))
        {
            throw new InvalidDataException(
                $"Segment {artifacts.Index}'s frames are encoded as {manifest.Encoding}, which this Infer does not read (it reads {string.Join(", ", FrameEncoding.Known)}): "
                + "the Preprocess that wrote them is of another release. Run Preprocess and Infer of the same release.");
        }

        if (manifest.Model != detector.Manifest.Name || band.Offset + band.Bytes > detector.Input.FrameByteCount || band.RowBytes != detector.Input.Width * 3)
        {
            throw new InvalidDataException(
                $"The frames were prepared for model '{manifest.Model}' (rows of {band.RowBytes} bytes, {band.FirstRow}+{band.Rows}) but this Infer runs '{detector.Manifest.Name}' ({detector.Input.Width}x{detector.Input.Height}).");
        }

        var clock = Stopwatch.StartNew();
        var done = 0;
        var detections = 0;
        await store.WriteAsync(artifacts.Buckets.Work, artifacts.FrameDetectionsKey, async (output, ct) =>
        {
            await using var json = new Utf8JsonWriter(output);
            foreach (var chunk in manifest.Chunks)
            {
                await foreach (var results in DetectChunkAsync(artifacts.Buckets.Work, chunk, manifest, ct).ConfigureAwait(false))
                {
                    for (var i = 0; i < results.Count; i++)
                    {
                        var frame = new FrameDetections(done, chunk.Timestamps[done - chunk.FirstFrame], Detection.ForPublishing(results[i]));
                        JsonSerializer.Serialize(json, frame, PipelineJsonContext.Default.FrameDetections);
                        await json.FlushAsync(ct).ConfigureAwait(false);
                        json.Reset();
                        await output.WriteAsync(s_newLine, ct).ConfigureAwait(false);
                        detections += results[i].Count;
                        done++;
                    }

                    context.Progress.Report(new StageProgress(context.Job.Id, Stage.Working, done, manifest.FrameCount));
                }
            }
        }, cancellationToken).ConfigureAwait(false);
        context.Written.Add(artifacts.FrameDetectionsKey);

        if (done != manifest.FrameCount)
        {
            throw new InvalidDataException($"The frame chunks held {done} frames but the manifest says {manifest.FrameCount}.");
        }

        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["detections"] = detections.ToString(CultureInfo.InvariantCulture),
            ["execution_provider"] = detector.ExecutionProvider.ToString(),
            ["infer_fps"] = (done / Math.Max(clock.Elapsed.TotalSeconds, 1e-9)).ToString("0.0", CultureInfo.InvariantCulture),
        };
    }

    // Reads a chunk a batch of frames at a time into pooled buffers and detects each batch.
    private async IAsyncEnumerable<IReadOnlyList<IReadOnlyList<Detection>>> DetectChunkAsync(
        string bucket,
        FrameChunk chunk,
        FrameManifest manifest,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var batchSize = detector.MaxBatchSize;
        var frameBytes = detector.Input.FrameByteCount;
        var band = manifest.FrameBand;
        var buffer = ArrayPool<byte>.Shared.Rent(frameBytes * batchSize);
        // The rows outside the band are padding; filled once, they stay, since reads only ever land inside the band.
        buffer.AsSpan(0, frameBytes * batchSize).Fill(detector.Input.PadValue);
        var frames = new ReadOnlyMemory<byte>[batchSize];
        var letterboxes = new LetterboxTransform[batchSize];
        Array.Fill(letterboxes, manifest.Letterbox);
        // A compact chunk is decoded by ffmpeg, from the object as a local file (the store's own file, or a download),
        // into the same bands back to back that a raw chunk holds.
        LocalFileLease? file = null;
        BandStreamDecoder? decoder = null;
        try
        {
            Stream stream;
            if (manifest.Encoding == FrameEncoding.H264)
            {
                file = await store.GetLocalFileAsync(bucket, chunk.Key, cancellationToken).ConfigureAwait(false);
                decoder = BandStreamDecoder.Start(file.Path, detector.Input.ChannelOrder);
                stream = decoder.Frames;
            }
            else
            {
                stream = await store.OpenReadAsync(bucket, chunk.Key, cancellationToken).ConfigureAwait(false);
            }

            await using var _ = stream;
            for (var remaining = chunk.Frames; remaining > 0;)
            {
                var count = Math.Min(batchSize, remaining);
                for (var i = 0; i < count; i++)
                {
                    var read = await stream.ReadAtLeastAsync(buffer.AsMemory((i * frameBytes) + band.Offset, band.Bytes), band.Bytes, throwOnEndOfStream: false, cancellationToken)
                        .ConfigureAwait(false);
                    if (read != band.Bytes)
                    {
                        if (decoder is not null)
                        {
                            // ffmpeg's reason, when it has one, says more than the count.
                            await decoder.CompleteAsync(cancellationToken).ConfigureAwait(false);
                        }

                        throw new InvalidDataException($"The frame chunk {chunk.Key} ends {read} bytes into frame {chunk.Frames - remaining + i} of its {chunk.Frames}.");
                    }

                    frames[i] = buffer.AsMemory(i * frameBytes, frameBytes);
                }

                var started = Stopwatch.GetTimestamp();
                IReadOnlyList<IReadOnlyList<Detection>> results = count == 1
                    ? [detector.Detect(frames[0].Span, manifest.Letterbox)]
                    : detector.DetectBatch(new ArraySegment<ReadOnlyMemory<byte>>(frames, 0, count), new ArraySegment<LetterboxTransform>(letterboxes, 0, count));
                metrics.Inferred(Stopwatch.GetElapsedTime(started), count);
                yield return results;
                remaining -= count;
            }

            if (decoder is not null)
            {
                await decoder.CompleteAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            decoder?.Dispose();
            if (file is not null)
            {
                await file.DisposeAsync().ConfigureAwait(false);
            }

            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
