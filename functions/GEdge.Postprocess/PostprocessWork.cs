using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using GEdge.Artifacts;
using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Rendering;
using GEdge.Stages;
using GEdge.Storage;

namespace GEdge.Postprocess;

/// <summary>
/// Draws each frame's detections on the original video and encodes it (same size, rate and frame count, audio kept),
/// and publishes <c>detections.json</c> and <c>summary.json</c> beside it. Infer's per-frame lines are read once, in
/// step with the frames being drawn, so memory does not grow with the video's length.
/// </summary>
public sealed class PostprocessWork(IObjectStore store, AnnotatedVideoWriter writer) : IStageWork
{
    /// <inheritdoc />
    public PipelineStage Stage => PipelineTopology.Postprocess;

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, string>> RunAsync(StageContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var clock = Stopwatch.StartNew();
        var job = context.Job;
        var artifacts = context.Artifacts;
        var manifest = await FrameArtifacts.ReadManifestAsync(store, artifacts, cancellationToken).ConfigureAwait(false);
        var (bucket, key) = JobArtifacts.UploadOf(job);
        var scratch = Directory.CreateTempSubdirectory($"gedge-postprocess-{job.Id}-");
        try
        {
            var videoPath = Path.Combine(scratch.FullName, "annotated.mp4");
            var detectionsPath = Path.Combine(scratch.FullName, "detections.json");
            var facts = new VideoFacts(manifest.Video.Width, manifest.Video.Height, manifest.Video.Fps, manifest.FrameCount);
            var summary = new DetectionTally();
            await using (var upload = await store.GetLocalFileAsync(bucket, key, cancellationToken).ConfigureAwait(false))
            await using (var detectionsFile = File.Create(detectionsPath))
            await using (var json = new Utf8JsonWriter(detectionsFile))
            {
                json.WriteStartObject();
                json.WriteNumber("jobId", job.Id);
                json.WriteString("model", manifest.Model);
                json.WritePropertyName("video");
                JsonSerializer.Serialize(json, facts, PipelineJsonContext.Default.VideoFacts);
                json.WriteStartArray("frames");
                var video = await writer.WriteAsync(
                    upload.Path,
                    OverlaysAsync(artifacts, json, summary, cancellationToken),
                    videoPath,
                    new SynchronousProgress(context, job.Id, Stage.Working, manifest.FrameCount),
                    cancellationToken).ConfigureAwait(false);
                json.WriteEndArray();
                json.WriteEndObject();
                if (video.FrameCount != manifest.FrameCount || summary.Frames != manifest.FrameCount)
                {
                    throw new InvalidDataException(
                        $"The annotated video has {video.FrameCount} frames and the detections {summary.Frames}, but the source has {manifest.FrameCount}.");
                }
            }

            await store.UploadFileAsync(artifacts.Buckets.Results, artifacts.AnnotatedVideoKey, videoPath, cancellationToken).ConfigureAwait(false);
            await store.UploadFileAsync(artifacts.Buckets.Results, artifacts.DetectionsKey, detectionsPath, cancellationToken).ConfigureAwait(false);

            var stageSeconds = new SortedDictionary<string, double>(StringComparer.Ordinal);
            foreach (var stage in PipelineTopology.Stages)
            {
                if (stage != Stage
                    && job.Fields.TryGetValue(JobStage.StageSecondsField(stage.Working), out var text)
                    && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
                {
                    stageSeconds[stage.Working.ToString()] = seconds;
                }
            }

            stageSeconds[Stage.Working.ToString()] = Math.Round(clock.Elapsed.TotalSeconds, 3);
            var document = new JobSummary(job.Id, manifest.Model, facts, summary.Classes(), stageSeconds, job.ToRecord());
            await store.WriteAsync(artifacts.Buckets.Results, artifacts.SummaryKey, (stream, ct) =>
                JsonSerializer.SerializeAsync(stream, document, PipelineJsonContext.Default.JobSummary, ct), cancellationToken).ConfigureAwait(false);

            return new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["result_video"] = $"{artifacts.Buckets.Results}/{artifacts.AnnotatedVideoKey}",
                ["result_detections"] = $"{artifacts.Buckets.Results}/{artifacts.DetectionsKey}",
                ["result_summary"] = $"{artifacts.Buckets.Results}/{artifacts.SummaryKey}",
            };
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    // Infer's lines become the writer's overlays; on the way each one is copied into detections.json and counted.
    private async IAsyncEnumerable<FrameOverlay> OverlaysAsync(
        JobArtifacts artifacts,
        Utf8JsonWriter json,
        DetectionTally tally,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var frame in FrameArtifacts.ReadDetectionsAsync(store, artifacts, cancellationToken).ConfigureAwait(false))
        {
            JsonSerializer.Serialize(json, frame, PipelineJsonContext.Default.FrameDetections);
            tally.Add(frame);
            if (json.BytesPending > 1 << 16)
            {
                await json.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            yield return new FrameOverlay(frame.Index, frame.Detections);
        }
    }

    // Progress<T> posts to the thread pool and may report out of order; the stage's sink is cheap and thread-safe.
    private sealed class SynchronousProgress(StageContext context, long jobId, JobStatus stage, int total) : IProgress<int>
    {
        public void Report(int value) => context.Progress.Report(new StageProgress(jobId, stage, value, total));
    }
}
