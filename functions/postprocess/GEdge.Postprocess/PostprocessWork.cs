using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using GEdge.Artifacts;
using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Media;
using GEdge.Rendering;
using GEdge.Stages;
using GEdge.Storage;

namespace GEdge.Postprocess;

/// <summary>
/// Draws each frame's detections on a segment's piece of the video and encodes it at the whole video's rate (one
/// segment per request); once every segment is done, joins the pieces into the annotated video with the original's
/// audio (stream copy), and publishes <c>detections.json</c> (every frame of the whole video, numbered from its first)
/// and <c>summary.json</c> beside it (the last stage's <see cref="IJoinWork"/>). Detections are read as streams, so memory
/// does not grow with the video's length.
/// </summary>
public sealed class PostprocessWork(IObjectStore store, AnnotatedVideoWriter writer) : IJoinWork
{
    /// <inheritdoc />
    public PipelineStage Stage => PipelineTopology.Postprocess;

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, string>> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var artifacts = context.Artifacts;
        var manifest = await FrameArtifacts.ReadManifestAsync(store, artifacts, cancellationToken).ConfigureAwait(false);
        var rate = FrameRate.TryParse(manifest.Video.FrameRate) is { IsKnown: true } known
            ? known
            : throw new InvalidDataException($"The source manifest of job {context.Job.Id} states no frame rate ('{manifest.Video.FrameRate}').");
        var scratch = Directory.CreateTempSubdirectory($"gedge-postprocess-{context.Job.Id}-{artifacts.Index}-");
        try
        {
            var piecePath = Path.Combine(scratch.FullName, "annotated.mp4");
            AnnotatedVideo piece;
            await using (var video = await store.GetLocalFileAsync(artifacts.Buckets.Work, artifacts.VideoKey, cancellationToken).ConfigureAwait(false))
            {
                piece = await writer.WriteAsync(
                    video.Path,
                    OverlaysAsync(artifacts, cancellationToken),
                    piecePath,
                    new SynchronousProgress(context, Stage.Working, manifest.FrameCount),
                    rate,
                    cancellationToken).ConfigureAwait(false);
            }

            if (piece.FrameCount != manifest.FrameCount)
            {
                throw new InvalidDataException(
                    $"The annotated piece of segment {artifacts.Index} has {piece.FrameCount} frames, but Preprocess read {manifest.FrameCount} from it.");
            }

            await store.UploadFileAsync(artifacts.Buckets.Work, artifacts.AnnotatedVideoKey, piecePath, cancellationToken).ConfigureAwait(false);
            context.Written.Add(artifacts.AnnotatedVideoKey);
            return new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["annotated_frames"] = piece.FrameCount.ToString(CultureInfo.InvariantCulture),
            };
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, string>> JoinAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var clock = Stopwatch.StartNew();
        var job = context.Job;
        var artifacts = context.Artifacts;
        var source = await FrameArtifacts.ReadSourceAsync(store, artifacts, cancellationToken).ConfigureAwait(false);
        var segments = context.Segments;
        if (segments.Count == 0 || segments.Count != source.SegmentStarts.Count)
        {
            throw new InvalidDataException($"Job {job.Id} has {segments.Count} segments in the job table but its cut made {source.SegmentStarts.Count}.");
        }

        var frameCounts = segments.Select(FramesOf).ToList();
        var frames = frameCounts.Sum();
        var (bucket, key) = JobArtifacts.UploadOf(job);
        var scratch = Directory.CreateTempSubdirectory($"gedge-join-{job.Id}-");
        var leases = new List<LocalFileLease>();
        try
        {
            var pieces = new List<AnnotatedPiece>(segments.Count);
            foreach (var segment in segments)
            {
                var lease = await store.GetLocalFileAsync(artifacts.Buckets.Work, artifacts.Segment(segment.Index).AnnotatedVideoKey, cancellationToken).ConfigureAwait(false);
                leases.Add(lease);
                pieces.Add(new AnnotatedPiece(lease.Path, frameCounts[segment.Index]));
            }

            var videoPath = Path.Combine(scratch.FullName, "annotated.mp4");
            await using (var upload = await store.GetLocalFileAsync(bucket, key, cancellationToken).ConfigureAwait(false))
            {
                await writer.JoinAsync(upload.Path, pieces, videoPath, cancellationToken).ConfigureAwait(false);
            }

            var detectionsPath = Path.Combine(scratch.FullName, "detections.json");
            var summary = new DetectionTally();
            var facts = new VideoFacts(source.Video.Width, source.Video.Height, source.Video.Fps, frames);
            await using (var file = File.Create(detectionsPath))
            {
                var document = new DetectionsDocument(job.Id, source.Model, facts, AllFramesAsync(artifacts, segments, frameCounts, summary, cancellationToken));
                await JsonSerializer.SerializeAsync(file, document, DetectionsJsonContext.Default.DetectionsDocument, cancellationToken).ConfigureAwait(false);
            }

            if (summary.Frames != frames)
            {
                throw new InvalidDataException($"The segments' detections cover {summary.Frames} frames, but Preprocess read {frames}.");
            }

            await store.UploadFileAsync(artifacts.Buckets.Results, artifacts.AnnotatedVideoKey, videoPath, cancellationToken).ConfigureAwait(false);
            await store.UploadFileAsync(artifacts.Buckets.Results, artifacts.DetectionsKey, detectionsPath, cancellationToken).ConfigureAwait(false);

            // Each stage's seconds, summed over the segments: the work it did for this job, wherever it ran.
            var stageSeconds = new SortedDictionary<string, double>(StringComparer.Ordinal);
            foreach (var stage in PipelineTopology.Stages)
            {
                stageSeconds[stage.Working.ToString()] = Math.Round(segments.Sum(s => JobStage.RecordedSeconds(s.Fields, JobStage.StageSecondsField(stage.Working)) ?? 0), 3);
            }

            stageSeconds[Stage.Working.ToString()] += Math.Round(clock.Elapsed.TotalSeconds, 3);
            var fields = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [SegmentFields.Frames] = frames.ToString(CultureInfo.InvariantCulture),
                ["detections"] = summary.Classes().Sum(c => c.Detections).ToString(CultureInfo.InvariantCulture),
                ["result_video"] = $"{artifacts.Buckets.Results}/{artifacts.AnnotatedVideoKey}",
                ["result_detections"] = $"{artifacts.Buckets.Results}/{artifacts.DetectionsKey}",
                ["result_summary"] = $"{artifacts.Buckets.Results}/{artifacts.SummaryKey}",
            };
            // The provider Infer ran on, when every segment ran on the same one.
            if (segments.Select(s => s.Fields.GetValueOrDefault("execution_provider")).Distinct().ToList() is [{ } provider])
            {
                fields["execution_provider"] = provider;
            }

            var record = job.ToRecord().ToDictionary(StringComparer.Ordinal);
            foreach (var (name, value) in fields)
            {
                record[name] = value;
            }

            var summaryDocument = new JobSummary(job.Id, source.Model, facts, summary.Classes(), stageSeconds, record);
            await store.WriteAsync(artifacts.Buckets.Results, artifacts.SummaryKey, (stream, ct) =>
                JsonSerializer.SerializeAsync(stream, summaryDocument, PipelineJsonContext.Default.JobSummary, ct), cancellationToken).ConfigureAwait(false);
            return fields;
        }
        finally
        {
            foreach (var lease in leases)
            {
                await lease.DisposeAsync().ConfigureAwait(false);
            }

            scratch.Delete(recursive: true);
        }
    }

    private static int FramesOf(JobSegment segment) =>
        SegmentFields.FramesOf(segment.Fields)
            ?? throw new InvalidDataException($"Segment {segment.Index} has no frame count: Preprocess did not record one.");

    // A segment's detections as the overlays its piece is drawn with (numbered from the segment's first frame).
    private async IAsyncEnumerable<FrameOverlay> OverlaysAsync(SegmentArtifacts artifacts, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var frame in FrameArtifacts.ReadDetectionsAsync(store, artifacts, cancellationToken).ConfigureAwait(false))
        {
            yield return new FrameOverlay(frame.Index, frame.Detections);
        }
    }

    // Every segment's detections in turn, renumbered from the video's first frame, each one counted on the way.
    private async IAsyncEnumerable<FrameDetections> AllFramesAsync(
        JobArtifacts artifacts,
        IReadOnlyList<JobSegment> segments,
        List<int> frameCounts,
        DetectionTally tally,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var first = 0;
        foreach (var segment in segments)
        {
            await foreach (var frame in FrameArtifacts.ReadDetectionsAsync(store, artifacts.Segment(segment.Index), cancellationToken).ConfigureAwait(false))
            {
                var numbered = frame with { Index = first + frame.Index };
                tally.Add(numbered);
                yield return numbered;
            }

            first += frameCounts[segment.Index];
        }
    }

    // Progress<T> posts to the thread pool and may report out of order; the stage's sink is cheap and thread-safe.
    private sealed class SynchronousProgress(StageContext context, JobStatus stage, int total) : IProgress<int>
    {
        public void Report(int value) =>
            context.Progress.Report(new StageProgress(context.Job.Id, stage, value, total));
    }
}
