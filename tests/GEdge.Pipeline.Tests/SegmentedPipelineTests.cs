using System.Globalization;
using System.Text.Json;
using GEdge.Contracts;
using GEdge.JobTable;

namespace GEdge.Pipeline.Tests;

/// <summary>
/// A video cut into segments, each moving through the stages on its own, ends as if it had been processed whole: the
/// same detections on every frame, an annotated video with the input's frames, size, rate and audio, evenly timed across
/// every join. The same clip goes through a pipeline that cuts it every second or so and one that keeps it whole.
/// </summary>
public sealed class SegmentedPipelineTests(ShortSegmentsPipelineFixture cut, WholeVideoPipelineFixture whole)
    : IClassFixture<ShortSegmentsPipelineFixture>, IClassFixture<WholeVideoPipelineFixture>, IDisposable
{
    private readonly TempFolder _folder = new("gedge-segmented-");

    public void Dispose() => _folder.Dispose();

    public static TheoryData<string> Clips => new() { "road.mp4", "walking.mp4", "walking-60s.mp4" };

    [Theory]
    [MemberData(nameof(Clips))]
    public async Task AClipCutIntoSegments_EndsAsIfProcessedWhole(string clip)
    {
        var input = await ClipAsync(clip);

        var (segmented, segmentedOut) = await RunAsync(cut, input);
        var (single, singleOut) = await RunAsync(whole, input);

        Assert.True(segmented.Segments > 1, $"{clip} was cut into {segmented.Segments} segment(s)");
        Assert.Equal(1, single.Segments);
        var source = await MediaFacts.ProbeAsync(input);
        var annotated = await MediaFacts.ProbeAsync(Path.Combine(segmentedOut, "annotated.mp4"));
        Assert.Equal((source.Frames, source.Width, source.Height, source.FrameRate, source.AudioCodec), (annotated.Frames, annotated.Width, annotated.Height, annotated.FrameRate, annotated.AudioCodec));
        AssertEvenlySpaced(await MediaTools.FrameTimesAsync(Path.Combine(segmentedOut, "annotated.mp4")), source.FrameRate);

        // Per frame, the same detections as the whole video's, at the same index and time.
        var framesCut = DetectionsFile.FramesOf(segmentedOut);
        var framesWhole = DetectionsFile.FramesOf(singleOut);
        Assert.Equal(source.Frames, framesCut.Count);
        Assert.Equal(framesWhole, framesCut);
        Assert.Equal(DetectionsFile.Classes(singleOut), DetectionsFile.Classes(segmentedOut));
    }

    [Fact]
    public async Task Infer_StartsTheFirstSegment_BeforePreprocessHasFinishedTheLast()
    {
        var (job, _) = await RunAsync(cut, await ClipAsync("walking.mp4"));

        var history = await cut.Pipeline.Jobs.GetSegmentHistoryAsync(job.Id);
        var firstInferred = history.Where(t => t.Status == JobStatus.Inferencing).Min(t => t.Time);
        var lastPreprocessed = history.Where(t => t.Status == JobStatus.Preprocessing_complete).Max(t => t.Time);
        Assert.True(firstInferred < lastPreprocessed, $"Infer began at {firstInferred:O}, Preprocess ended at {lastPreprocessed:O}");
        Assert.Equal(JobStateMachine.Statuses, (await cut.Pipeline.Jobs.GetHistoryAsync(job.Id)).Select(t => t.Status));
        Assert.All(await cut.Pipeline.Jobs.GetSegmentsAsync(job.Id), s => Assert.Equal((JobStatus.Postprocessing_complete, 0), (s.Status, s.Iteration)));
        Assert.Empty(await cut.IntermediatesAsync(job.Id));
    }

    public static TheoryData<string> EdgeInputs => new() { "one-keyframe", "variable-rate", "late-start", "long-audio" };

    [Theory]
    [MemberData(nameof(EdgeInputs))]
    public async Task AnEdgeInput_EndsWell_WithEveryFrameOnce_AtTimesFromZero(string kind)
    {
        var input = await EdgeInputAsync(kind);

        var (job, output) = await RunAsync(cut, input);

        var source = await MediaFacts.ProbeAsync(input);
        var annotated = await MediaFacts.ProbeAsync(Path.Combine(output, "annotated.mp4"));
        Assert.Equal((source.Frames, source.Width, source.Height, source.AudioCodec), (annotated.Frames, annotated.Width, annotated.Height, annotated.AudioCodec));
        var frames = DetectionsFile.FramesOf(output);
        Assert.Equal(Enumerable.Range(0, source.Frames), frames.Select(f => f.Index));
        Assert.Equal(0, frames[0].Time, 3);
        Assert.All(frames.Zip(frames.Skip(1)), pair => Assert.True(pair.Second.Time > pair.First.Time, $"frame {pair.Second.Index} at {pair.Second.Time} after {pair.First.Time}"));
        if (kind == "one-keyframe")
        {
            Assert.Equal(1, job.Segments);
        }
        else
        {
            Assert.True(job.Segments > 1, $"{kind} was cut into {job.Segments} segment(s)");
        }
    }

    [Fact]
    public async Task APhoneClipWithRotation_HasItsBoxesOnTheObjectsOfTheUprightPicture()
    {
        // The same picture twice: stored sideways with a display rotation, and turned upright for real.
        var rotated = _folder.PathOf("rotated.mp4");
        await MediaTools.FfmpegAsync("-i", EmbeddedPipelineTests.Asset("road.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated);
        var upright = _folder.PathOf("upright.mp4");
        await MediaTools.FfmpegAsync("-i", rotated, "-c:v", "libx264", "-crf", "10", "-g", "25", "-c:a", "copy", upright);

        var (_, rotatedOut) = await RunAsync(cut, rotated);
        var (_, uprightOut) = await RunAsync(cut, upright);

        var annotated = await MediaFacts.ProbeAsync(Path.Combine(rotatedOut, "annotated.mp4"));
        Assert.Equal((720, 1280), (annotated.Width, annotated.Height));
        var rotatedFrames = DetectionsFile.FramesOf(rotatedOut);
        var uprightFrames = DetectionsFile.FramesOf(uprightOut);
        Assert.Equal(uprightFrames.Count, rotatedFrames.Count);
        // The upright copy is a re-encode, and each picture crosses the compact frame boundary on its own, so boxes near
        // the detector's threshold come and go between the two; where the confident ones land is what rotation decides.
        var matched = 0;
        var total = 0;
        for (var i = 0; i < rotatedFrames.Count; i++)
        {
            foreach (var box in uprightFrames[i].Boxes.Where(b => b.Score >= 0.5))
            {
                total++;
                matched += rotatedFrames[i].Boxes.Any(other => other.Label == box.Label && DetectionsFile.IoU(other, box) >= 0.5) ? 1 : 0;
            }
        }

        Assert.True(total > 0 && matched >= 0.9 * total, $"{matched} of {total} confident boxes of the upright picture found on the rotated one");
    }

    private async Task<(Job Job, string Output)> RunAsync(PipelineFixture fixture, string input)
    {
        var job = await fixture.RunAsync(input, "alice");
        Assert.Null(job.Error);
        var output = _folder.PathOf($"out-{Guid.NewGuid():N}");
        await fixture.Pipeline.DownloadResultsAsync(job, output);
        return (job, output);
    }

    private async Task<string> ClipAsync(string clip)
    {
        if (clip != "walking-60s.mp4")
        {
            return EmbeddedPipelineTests.Asset(clip);
        }

        var path = _folder.PathOf(clip);
        await MediaTools.FfmpegAsync("-stream_loop", "4", "-i", EmbeddedPipelineTests.Asset("walking.mp4"), "-c", "copy", "-t", "60", path);
        return path;
    }

    // Made with ffmpeg from the committed clips, each the shape its name says.
    private async Task<string> EdgeInputAsync(string kind)
    {
        var road = EmbeddedPipelineTests.Asset("road.mp4");
        var path = _folder.PathOf(kind + ".mp4");
        switch (kind)
        {
            case "one-keyframe":
                await MediaTools.FfmpegAsync("-i", road, "-c:v", "libx264", "-g", "1000", "-c:a", "copy", path);
                break;
            case "variable-rate":
                // Every third frame dropped, the others keep their times: 40 and 80 ms apart in turn.
                await MediaTools.FfmpegAsync("-i", road, "-vf", "select='mod(n\\,3)'", "-fps_mode", "vfr", "-c:v", "libx264", "-g", "10", "-c:a", "copy", path);
                break;
            case "late-start":
                // A clip cut from a longer recording: its first timestamp is 100 s.
                await MediaTools.FfmpegAsync("-i", road, "-c", "copy", "-output_ts_offset", "100", path);
                break;
            case "long-audio":
                // 4 s of sound under 1.5 s of picture.
                await MediaTools.FfmpegAsync("-i", road, "-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", path);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "No such edge input.");
        }

        return path;
    }

    private static void AssertEvenlySpaced(IReadOnlyList<double> times, string rate)
    {
        var parts = rate.Split('/');
        var step = double.Parse(parts[1], CultureInfo.InvariantCulture) / double.Parse(parts[0], CultureInfo.InvariantCulture);
        for (var i = 1; i < times.Count; i++)
        {
            Assert.True(Math.Abs(times[i] - times[i - 1] - step) < 1e-4, $"frames {i - 1} and {i} are {times[i] - times[i - 1]:0.######} s apart, not {step:0.######}");
        }
    }
}
