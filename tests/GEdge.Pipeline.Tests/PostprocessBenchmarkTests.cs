using GEdge.Cli.Commands;
using GEdge.Rendering;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GEdge.Pipeline.Tests;

public sealed class PostprocessBenchmarkTests
{
    [Fact]
    public async Task Run_OnRoad_MeasuresFfmpegAloneAndTheStageOverTheSameFrames()
    {
        var options = new AnnotatedVideoOptions { Preset = "ultrafast" };
        var writer = new AnnotatedVideoWriter(Options.Create(options), NullLogger<AnnotatedVideoWriter>.Instance);
        var benchmark = new PostprocessBenchmark(writer, NullLogger<PostprocessBenchmark>.Instance);

        var result = await benchmark.RunAsync(EmbeddedPipelineTests.Asset("road.mp4"), boxesPerFrame: 4, repetitions: 2);

        // Timings are machine-dependent and not asserted here; what both runs did is: each went through every frame of
        // the clip, as ffprobe counts them on its own (the benchmark fails if the two runs disagree with each other).
        var probed = await MediaFacts.ProbeAsync(EmbeddedPipelineTests.Asset("road.mp4"));
        Assert.Equal(probed.Frames, result.Frames);
        Assert.Equal((38, 1280, 720, 4, "ultrafast", 23, 2), (result.Frames, result.Width, result.Height, result.BoxesPerFrame, result.Preset, result.ConstantRateFactor, result.Repetitions));
        Assert.Empty(Directory.EnumerateDirectories(Path.GetTempPath(), "gedge-postprocess-benchmark-*"));
    }
}
