using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
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
    // Overlays read ahead of the frame being drawn: enough that neither side waits on the other's every step.
    private const int OverlaysInFlight = 32;

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
            {
                // Infer's lines are read once: the serializer pulls them as the document's frames and hands each one's
                // overlay, through a small channel, to the writer that draws it. Both stream, so memory does not grow
                // with the video's length.
                var overlays = Channel.CreateBounded<FrameOverlay>(new BoundedChannelOptions(OverlaysInFlight) { SingleReader = true, SingleWriter = true });
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var detectionsDocument = new DetectionsDocument(job.Id, manifest.Model, facts, FramesAsync(artifacts, overlays.Writer, summary, stop.Token));
                var detections = Task.Run(() => WriteDetectionsAsync(detectionsPath, detectionsDocument, overlays.Writer, stop.Token), stop.Token);
                AnnotatedVideo video;
                try
                {
                    video = await writer.WriteAsync(
                        upload.Path,
                        overlays.Reader.ReadAllAsync(stop.Token),
                        videoPath,
                        new SynchronousProgress(context, job.Id, Stage.Working, manifest.FrameCount),
                        cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    // The writer stopped (or saw the detections fail, whose exception it then throws): stop reading them too.
                    await stop.CancelAsync().ConfigureAwait(false);
                    await detections.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    throw;
                }

                // The writer read the overlays to their end, which comes once detections.json is written and closed.
                await detections.ConfigureAwait(false);
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

    private static async Task WriteDetectionsAsync(string path, DetectionsDocument document, ChannelWriter<FrameOverlay> overlays, CancellationToken cancellationToken)
    {
        try
        {
            await using (var file = File.Create(path))
            {
                await JsonSerializer.SerializeAsync(file, document, DetectionsJsonContext.Default.DetectionsDocument, cancellationToken).ConfigureAwait(false);
            }

            overlays.TryComplete();
        }
        catch (Exception e)
        {
            overlays.TryComplete(e);
            throw;
        }
    }

    // Infer's lines, as the document's frames; on the way each one is counted and its overlay handed to the writer.
    private async IAsyncEnumerable<FrameDetections> FramesAsync(
        JobArtifacts artifacts,
        ChannelWriter<FrameOverlay> overlays,
        DetectionTally tally,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var frame in FrameArtifacts.ReadDetectionsAsync(store, artifacts, cancellationToken).ConfigureAwait(false))
        {
            tally.Add(frame);
            await overlays.WriteAsync(new FrameOverlay(frame.Index, frame.Detections), cancellationToken).ConfigureAwait(false);
            yield return frame;
        }
    }

    // Progress<T> posts to the thread pool and may report out of order; the stage's sink is cheap and thread-safe.
    private sealed class SynchronousProgress(StageContext context, long jobId, JobStatus stage, int total) : IProgress<int>
    {
        public void Report(int value) => context.Progress.Report(new StageProgress(jobId, stage, value, total));
    }
}
