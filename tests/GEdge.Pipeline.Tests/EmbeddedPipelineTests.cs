using System.Text.Json;
using GEdge.Contracts;
using GEdge.JobTable;

namespace GEdge.Pipeline.Tests;

/// <summary>The main job, end to end on the embedded default, with the real ffmpeg, model and Garnet.</summary>
public sealed class EmbeddedPipelineTests(PipelineFixture fixture) : IClassFixture<PipelineFixture>, IDisposable
{
    private static readonly JobStatus[] s_allStatusesInOrder =
    [
        JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Preprocessing_complete, JobStatus.Inferencing,
        JobStatus.Inferencing_complete, JobStatus.Postprocessing, JobStatus.Postprocessing_complete, JobStatus.Exit,
    ];

    private readonly string _out = Directory.CreateTempSubdirectory("gedge-results-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    public static TheoryData<string, string, string?> Clips => new()
    {
        // clip, the class a person sees on most frames, the audio codec to keep
        { "road.mp4", "car", "aac" },
        { "walking.mp4", "person", null },
    };

    [Theory]
    [MemberData(nameof(Clips))]
    public async Task Run_ProducesAnAnnotatedVideoWithTheInputsFramesSizeRateAndAudio(string clip, string label, string? audioCodec)
    {
        var input = Asset(clip);
        var job = await fixture.RunAsync(input, "alice");

        Assert.Null(job.Error);
        await fixture.Pipeline.DownloadResultsAsync(job, _out);
        var source = await MediaFacts.ProbeAsync(input);
        var annotated = await MediaFacts.ProbeAsync(Path.Combine(_out, "annotated.mp4"));
        Assert.Equal(source.Frames, annotated.Frames);
        Assert.Equal((source.Width, source.Height), (annotated.Width, annotated.Height));
        Assert.Equal(source.FrameRate, annotated.FrameRate);
        Assert.Equal(audioCodec, annotated.AudioCodec);

        using var detections = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_out, "detections.json")));
        var root = detections.RootElement;
        Assert.Equal(job.Id, root.GetProperty("jobId").GetInt64());
        Assert.Equal("yolox_nano", root.GetProperty("model").GetString());
        var video = root.GetProperty("video");
        Assert.Equal(source.Width, video.GetProperty("width").GetInt32());
        Assert.Equal(source.Height, video.GetProperty("height").GetInt32());
        Assert.Equal(25.0, video.GetProperty("fps").GetDouble());
        Assert.Equal(source.Frames, video.GetProperty("frames").GetInt32());
        var frames = root.GetProperty("frames").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, source.Frames), frames.Select(f => f.GetProperty("index").GetInt32()));
        Assert.Equal(0.04 * (source.Frames - 1), frames[^1].GetProperty("time").GetDouble(), 3);
        var framesWithLabel = frames.Count(f => f.GetProperty("detections").EnumerateArray().Any(d => d.GetProperty("label").GetString() == label));
        Assert.True(framesWithLabel >= 0.9 * frames.Count, $"{label} found on {framesWithLabel} of {frames.Count} frames");
        foreach (var detection in frames.SelectMany(f => f.GetProperty("detections").EnumerateArray()))
        {
            var box = detection.GetProperty("box");
            Assert.InRange(box.GetProperty("x").GetDouble(), 0, source.Width);
            Assert.InRange(box.GetProperty("y").GetDouble(), 0, source.Height);
            Assert.InRange(box.GetProperty("x").GetDouble() + box.GetProperty("width").GetDouble(), 0, source.Width + 0.01);
            Assert.InRange(box.GetProperty("y").GetDouble() + box.GetProperty("height").GetDouble(), 0, source.Height + 0.01);
        }

        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_out, "summary.json")));
        var classes = summary.RootElement.GetProperty("classes").EnumerateArray().ToList();
        var main = classes.Single(c => c.GetProperty("label").GetString() == label);
        Assert.Equal(framesWithLabel, main.GetProperty("framesPresent").GetInt32());
        Assert.Equal(
            frames.Sum(f => f.GetProperty("detections").EnumerateArray().Count(d => d.GetProperty("label").GetString() == label)),
            main.GetProperty("detections").GetInt32());
        Assert.Equal(
            frames.Max(f => f.GetProperty("detections").EnumerateArray().Count(d => d.GetProperty("label").GetString() == label)),
            main.GetProperty("peakInOneFrame").GetInt32());
        var stageSeconds = summary.RootElement.GetProperty("stageSeconds");
        foreach (var stage in new[] { "Preprocessing", "Inferencing", "Postprocessing" })
        {
            Assert.True(stageSeconds.GetProperty(stage).GetDouble() > 0, $"no time recorded for {stage}");
        }

        Assert.Equal(job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), summary.RootElement.GetProperty("job").GetProperty("id").GetString());
    }

    [Fact]
    public async Task Run_MovesTheJobThroughTheEightStatusesInOrder_AndEndsInExitWithTimesAndNoRetries()
    {
        var before = DateTimeOffset.UtcNow;
        var job = await fixture.RunAsync(Asset("road.mp4"), "bob");

        Assert.Equal(JobStatus.Exit, job.Status);
        Assert.Null(job.Error);
        Assert.Equal(0, job.Iteration);
        Assert.Equal("mp4", job.Type);
        Assert.Equal("bob", job.User);
        Assert.StartsWith("uploads/bob/", job.Path, StringComparison.Ordinal);
        Assert.NotNull(job.StartTime);
        Assert.NotNull(job.EndTime);
        Assert.InRange(job.StartTime!.Value, before.AddSeconds(-1), job.EndTime!.Value);
        Assert.Equal(s_allStatusesInOrder, (await fixture.Pipeline.Jobs.GetHistoryAsync(job.Id)).Select(t => t.Status));
        // The job's own events start its cut, start its join and announce its end; its segments move on their own events.
        Assert.Equal([JobStatus.Enqueue, JobStatus.Postprocessing_complete, JobStatus.Exit], fixture.EventsOf(job.Id));
        Assert.Empty(await fixture.IntermediatesAsync(job.Id));
    }

    public static TheoryData<string, byte[], string> BadInputs => new()
    {
        { "empty.mp4", [], "empty" },
        { "notes.mp4", "these are my notes, not a video"u8.ToArray(), "not a video" },
        { "cut.mp4", File.ReadAllBytes(Asset("road.mp4"))[..300_000], "truncated" },
        { "dog.mp4", File.ReadAllBytes(Asset("dog.jpg")), "image" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Run_WhenTheInputIsNotAVideo_EndsTheJobInExitWithTheReason_AndTheNextJobStillRuns(string name, byte[] content, string reason)
    {
        var path = Path.Combine(_out, name);
        await File.WriteAllBytesAsync(path, content);

        var failed = await fixture.RunAsync(path, "carol");

        Assert.Equal(JobStatus.Exit, failed.Status);
        Assert.NotNull(failed.EndTime);
        Assert.Contains(reason, failed.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(name, failed.Error, StringComparison.Ordinal);
        Assert.Empty(await fixture.IntermediatesAsync(failed.Id));
        Assert.Equal(JobStatus.Exit, fixture.EventsOf(failed.Id)[^1]);
        // At once: no attempt retried, so no restart counted.
        Assert.Equal(0, failed.Iteration);
        Assert.Equal(
            [JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Exit],
            (await fixture.Pipeline.Jobs.GetHistoryAsync(failed.Id)).Select(t => t.Status));

        var next = await fixture.RunAsync(Asset("road.mp4"), "carol");
        Assert.Null(next.Error);
        Assert.Equal(0, next.Iteration);
    }

    internal static string Asset(string name) => Path.Combine(AppContext.BaseDirectory, "assets", name);
}

/// <summary>At-least-once delivery: every event delivered twice still makes one result per job.</summary>
public sealed class DuplicateDeliveryTests(DuplicatingPipelineFixture fixture) : IClassFixture<DuplicatingPipelineFixture>
{
    [Fact]
    public async Task Run_WhenEveryEventIsDeliveredTwice_ProducesOneResultAndNoRetries()
    {
        var job = await fixture.RunAsync(EmbeddedPipelineTests.Asset("road.mp4"), "dave");

        Assert.Null(job.Error);
        Assert.Equal(0, job.Iteration);
        Assert.Equal(8, (await fixture.Pipeline.Jobs.GetHistoryAsync(job.Id)).Count);
        var results = new List<string>();
        await foreach (var item in fixture.Pipeline.Store.ListAsync(fixture.Pipeline.Buckets.Results, "dave/"))
        {
            results.Add(item.Key);
        }

        Assert.Equal([$"dave/{job.Id}/annotated.mp4", $"dave/{job.Id}/detections.json", $"dave/{job.Id}/summary.json"], results);
    }
}
