using System.Globalization;
using System.Text.Json;
using GEdge.Artifacts;
using GEdge.Contracts;
using GEdge.Infer;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Preprocess;
using GEdge.Stages;
using GEdge.Storage;
using GEdge.Vision;
using GEdge.Vision.Onnx;
using Xunit.Abstractions;

namespace GEdge.Pipeline.Tests;

/// <summary>
/// What crosses from Preprocess to Infer is compact (an H.264 stream per segment, <see cref="FrameEncoding.H264"/>), not
/// raw frames: a fraction of the bytes, and the same detections. Each clip runs, whole, through a pipeline with the
/// default boundary and through one with raw frames.
/// </summary>
public sealed class FrameBoundaryTests(WholeVideoPipelineFixture compact, RawFramesPipelineFixture raw, ITestOutputHelper output)
    : IClassFixture<WholeVideoPipelineFixture>, IClassFixture<RawFramesPipelineFixture>, IDisposable
{
    private readonly TempFolder _folder = new("gedge-boundary-");

    public void Dispose() => _folder.Dispose();

    // walking.mp4 is gedge bench's clip, where the goal is a tenth of raw (it takes a seventeenth); road.mp4, a dashcam's
    // 38 frames of motion, the first a keyframe, takes a seventh.
    [Theory]
    [InlineData("road.mp4", 6)]
    [InlineData("walking.mp4", 10)]
    public async Task CompactFrames_TakeAFractionOfRawsBytes_AndDetectWhatRawFramesDetect(string clip, int timesSmaller)
    {
        var input = EmbeddedPipelineTests.Asset(clip);

        var (compactBytes, compactOut) = await RunAsync(compact, input);
        var (rawBytes, rawOut) = await RunAsync(raw, input);

        Assert.True(compactBytes * timesSmaller <= rawBytes, $"the compact frames of {clip} took {compactBytes} bytes, raw ones {rawBytes}");
        var compactFrames = DetectionsFile.FramesOf(compactOut);
        var rawFrames = DetectionsFile.FramesOf(rawOut);
        Assert.Equal(rawFrames.Select(f => (f.Index, f.Time)), compactFrames.Select(f => (f.Index, f.Time)));

        // Per frame, the boxes found on raw frames matched one to one by class and IoU >= 0.5 on compact ones.
        var matched = rawFrames.Zip(compactFrames, (r, c) => DetectionsFile.Matched(r.Boxes, c.Boxes)).Sum();
        var onRaw = rawFrames.Sum(f => f.Boxes.Count);
        var onCompact = compactFrames.Sum(f => f.Boxes.Count);
        var recall = matched / (double)onRaw;
        var precision = matched / (double)onCompact;
        var figures = string.Create(CultureInfo.InvariantCulture,
            $"{clip}: {compactBytes / rawFrames.Count} bytes a frame against {rawBytes / rawFrames.Count} raw; {matched} boxes matched of {onRaw} on raw frames and {onCompact} on compact ones: recall {recall:0.0000}, precision {precision:0.0000}");
        output.WriteLine(figures);
        Assert.True(onRaw > 0 && recall >= 0.98 && precision >= 0.98, figures);
    }

    [Theory]
    [InlineData("h264", 2)]
    [InlineData("av1", 1)]
    public async Task Infer_RefusesFramesInAnEncodingItDoesNotRead_NamingIt(string codec, int version)
    {
        var store = new LocalFolderObjectStore(_folder.PathOf("storage"));
        var artifacts = new JobArtifacts(new BucketOptions(), "alice", 7).Segment(0);
        var letterbox = LetterboxTransform.Create(1280, 720, 416, 416, LetterboxPlacement.TopLeft);
        var video = new SourceVideo(1280, 720, "25/1", 25, 1, 0.04, false, "h264");
        var manifest = new FrameManifest(7, "yolox_nano", video, letterbox, FrameBand.Of(letterbox), 1, [new FrameChunk(artifacts.FramesVideoKey, 0, 1, [0])])
        {
            Encoding = new FrameEncoding(codec, version),
        };
        await store.WriteAsync(artifacts.Buckets.Work, artifacts.FrameManifestKey, (stream, ct) =>
            JsonSerializer.SerializeAsync(stream, manifest, PipelineJsonContext.Default.FrameManifest, ct));
        using var detector = new ObjectDetector(ModelCatalog.Load(ModelCatalog.DefaultModel, ModelCatalog.FindDirectory()));
        var job = new Job { Id = 7, User = "alice", Path = "uploads/alice/clip.mp4", Type = "video", Status = JobStatus.Inferencing };
        var context = new StageContext(job, new JobSegment { Index = 0, Status = JobStatus.Inferencing }, artifacts, new NoSink());

        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => new InferWork(store, detector, new GEdge.Metrics.GEdgeMetrics()).RunAsync(context, CancellationToken.None));

        Assert.Contains($"encoded as {codec}/{version}, which this Infer does not read (it reads raw/1, h264/1)", refused.Message, StringComparison.Ordinal);
        Assert.Null(await store.StatAsync(artifacts.Buckets.Work, artifacts.FrameDetectionsKey));
    }

    // The bytes the frames took between the stages, as Preprocess recorded them per segment, and the results folder.
    private async Task<(long FrameBytes, string Output)> RunAsync(PipelineFixture fixture, string input)
    {
        var job = await fixture.RunAsync(input, "alice");
        Assert.Null(job.Error);
        var output = _folder.PathOf($"out-{Guid.NewGuid():N}");
        await fixture.Pipeline.DownloadResultsAsync(job, output);
        var segments = await fixture.Pipeline.Jobs.GetSegmentsAsync(job.Id);
        return (segments.Sum(s => long.Parse(s.Fields[PreprocessWork.FrameBytesField], CultureInfo.InvariantCulture)), output);
    }

    private sealed class NoSink : IStageProgressSink
    {
        public void Report(StageProgress progress)
        {
        }
    }
}
