using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace GEdge.Pipeline.Tests;

/// <summary>The cluster view: per stage, the segments waiting, in flight and done in the last minute, read from the job table.</summary>
public sealed class ClusterActivityTests
{
    [Fact]
    public async Task EachStage_CountsItsWaitingAndInFlightSegments_AndWhatItCompletedInTheLastMinuteOnly()
    {
        await using var garnet = GarnetTestServer.Start();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["JobTable:ConnectionString"] = garnet.ConnectionString }).Build();
        await using var services = new ServiceCollection().AddSingleton<TimeProvider>(time).AddLogging().AddJobTable(settings).BuildServiceProvider();
        var jobs = services.GetRequiredService<JobTable.JobTable>();
        async Task<long> CreateAsync(int n) => (await jobs.CreateAsync(new NewJob("alice", $"uploads/alice/clip{n}.mp4", "mp4", $"v{n}"))).Job.Id;

        // A: not cut yet, waiting for Preprocess. B: being cut. C: cut into three; segment 0 preprocessed and in Infer,
        // segment 1 in Preprocess, segment 2 waiting.
        await CreateAsync(1);
        Assert.True(await jobs.TryClaimAsync(await CreateAsync(2), JobStatus.Preprocessing));
        var c = await CreateAsync(3);
        Assert.True(await jobs.TryClaimAsync(c, JobStatus.Preprocessing));
        Assert.True(await jobs.SplitAsync(c, [0, 10, 20]));
        await jobs.TryClaimSegmentAsync(c, 0, JobStatus.Preprocessing, "h/1");
        await jobs.TryCompleteSegmentAsync(c, 0, JobStatus.Preprocessing, "h/1");
        await jobs.TryClaimSegmentAsync(c, 0, JobStatus.Inferencing, "h/2");
        await jobs.TryClaimSegmentAsync(c, 1, JobStatus.Preprocessing, "h/1");

        // Two minutes on, D runs its one segment through every stage and ends: the only completions in the window.
        time.Advance(TimeSpan.FromMinutes(2));
        var d = await CreateAsync(4);
        Assert.True(await jobs.TryClaimAsync(d, JobStatus.Preprocessing));
        Assert.True(await jobs.SplitAsync(d, [0]));
        foreach (var stage in PipelineTopology.Stages)
        {
            await jobs.TryClaimSegmentAsync(d, 0, stage.Working, "h/3");
            await jobs.TryCompleteSegmentAsync(d, 0, stage.Working, "h/3");
        }

        Assert.True(await jobs.TryTransitionAsync(d, JobStatus.Postprocessing_complete, JobStatus.Exit));

        var activity = await ClusterActivity.ReadAsync(jobs, time);

        Assert.Equal(3, activity.OpenJobs);
        Assert.Equal(
            [new StageActivity("preprocess", 2, 2, 1), new StageActivity("infer", 0, 1, 1), new StageActivity("postprocess", 0, 0, 1)],
            activity.Stages);

        // What a peer reads of it: a segment sent now waits what waits and runs over the last minute's throughput.
        // Its processes, as they say it: one preprocess, two infer (one on a GPU), no postprocess (scaled to zero).
        await jobs.AnnounceProcessAsync(new StageProcess("preprocess", "h/1", "cpu"), TimeSpan.FromSeconds(15));
        await jobs.AnnounceProcessAsync(new StageProcess("infer", "h/2", "cpu"), TimeSpan.FromSeconds(15));
        await jobs.AnnounceProcessAsync(new StageProcess("infer", "g/2", "cuda"), TimeSpan.FromSeconds(15));
        await jobs.AnnounceProcessAsync(new StageProcess("postprocess", "h/3", "cpu"), TimeSpan.FromSeconds(15));
        await jobs.WithdrawProcessAsync(new StageProcess("postprocess", "h/3", "cpu"));
        // One that stopped saying it long ago has lapsed.
        await jobs.AnnounceProcessAsync(new StageProcess("postprocess", "old/9", "cpu"), TimeSpan.FromSeconds(-1));
        var capacity = await EdgeCapacity.ReadAsync(jobs, time);
        Assert.Equal(
            [new StageCapacity("preprocess", 2, 2, 1, 240, 1, false), new StageCapacity("infer", 0, 1, 1, 60, 2, true), new StageCapacity("postprocess", 0, 0, 1, 0, 0, false)],
            capacity.Stages);
        Assert.Equal(60, capacity.For(PipelineTopology.Infer).WaitEstimateSeconds);
    }

    [Fact]
    public void WaitEstimate_IsUnknown_ForAStageWithWorkThatFinishedNothingInTheLastMinute()
    {
        var capacity = EdgeCapacity.Of(new ClusterActivity(DateTimeOffset.UnixEpoch, 1, [new StageActivity("preprocess", 0, 0, 0), new StageActivity("infer", 3, 0, 0), new StageActivity("postprocess", 0, 0, 0)]), []);

        Assert.Equal([0, null, 0], capacity.Stages.Select(s => s.WaitEstimateSeconds));
    }
}
