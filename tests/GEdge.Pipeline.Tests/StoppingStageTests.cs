using GEdge.Cli;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Stages;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace GEdge.Pipeline.Tests;

/// <summary>
/// A job or segment event that reaches a stage after its process was told to stop (Knative sends SIGTERM, then keeps
/// routing to the pod until its endpoints update): the stage claims it and gives it straight back, so it is neither
/// lost (a refused delivery would be dead-lettered once nobody listens) nor counted as a failed attempt, and the sweep
/// re-queues it for another process. The embedded pipeline, its lifetime told to stop as SIGTERM tells it.
/// </summary>
public sealed class StoppingStageTests : IAsyncLifetime
{
    private const string StoppingReason = "was not started: its process was stopping";
    private readonly string _root = Directory.CreateTempSubdirectory("gedge-stopping-").FullName;
    private IHost _host = null!;

    private JobTable.JobTable Jobs => _host.Services.GetRequiredService<JobTable.JobTable>();

    public async Task InitializeAsync()
    {
        _host = EmbeddedHost.CreatePipeline(
            verbose: false,
            new NoProgress(),
            new DeliveryOptions { BackoffDelay = TimeSpan.FromMilliseconds(20) },
            new Dictionary<string, string?>
            {
                ["JobTable:Embedded:DataPath"] = Path.Combine(_root, "garnet"),
                ["Storage:Local:Root"] = Path.Combine(_root, "storage"),
                // The test sweeps when it is ready to; the timer would otherwise re-queue at its own moment.
                ["Sweeper:Interval"] = "01:00:00",
            });
        await _host.StartAsync();
        // What SIGTERM does to a function's host: ApplicationStopping fires, and the process still answers requests.
        _host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task AnUploadArrivingWhileStopping_IsClaimedAndGivenBackUncut_AndTheSweepRequeuesItUncounted()
    {
        var submission = await _host.Services.GetRequiredService<JobSubmissions>().SubmitAsync(
            "alice",
            "road.mp4",
            async (target, ct) =>
            {
                await using var source = File.OpenRead(EmbeddedPipelineTests.Asset("road.mp4"));
                await source.CopyToAsync(target, ct);
            },
            CancellationToken.None);
        var id = submission.Job.Id;

        var given = await PollAsync(async () => await Jobs.GetAsync(id) is { GivenBack: not null } job ? job : null);

        // Claimed (so no other delivery of the event could take it meanwhile), then handed back with its reason, its
        // lease cut short; not cut, not counted.
        Assert.Equal(JobStatus.Preprocessing, given.Status);
        Assert.EndsWith(StoppingReason, given.GivenBack, StringComparison.Ordinal);
        Assert.True(given.LeaseDeadline <= DateTimeOffset.UtcNow, $"the lease runs to {given.LeaseDeadline:O}");
        Assert.Equal((0, null, null), (given.Iteration, given.Segments, given.Error));
        Assert.Contains(given, await Jobs.ListExpiredLeasesAsync(DateTimeOffset.UtcNow, 10), new SameId());

        // The sweep (a PingSource in the cluster) puts it back in the queue it came from, still at iteration 0.
        Assert.True(await _host.Services.GetRequiredService<StuckJobSweeper>().SweepAsync(CancellationToken.None) >= 1);
        var history = await Jobs.GetHistoryAsync(id);
        Assert.Equal([JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Enqueue], history.Take(3).Select(t => t.Status));
        Assert.Equal(0, (await Jobs.GetAsync(id))!.Iteration);
    }

    [Fact]
    public async Task ASegmentEventArrivingWhileStopping_IsClaimedAndGivenBackUnworked_AndTheSweepRequeuesItUncounted()
    {
        // A job the cut has made two segments of, as the first stage leaves it; then segment 1's event arrives.
        var created = await Jobs.CreateAsync(new NewJob("alice", "uploads/alice/clip.mp4", "mp4", "v1"));
        var id = created.Job.Id;
        Assert.True(await Jobs.TryClaimAsync(id, JobStatus.Preprocessing));
        Assert.True(await Jobs.SplitAsync(id, [0, 10]));
        var source = _host.Services.GetRequiredService<IOptions<StageOptions>>().Value.EventSource;
        await _host.Services.GetRequiredService<IEventPublisher>().PublishAsync(
            GEdgeEvents.CreateSegmentStatusChanged(id, 1, JobStatus.Enqueue, 0, source));

        var given = await PollAsync(async () => (await Jobs.GetSegmentsAsync(id))[1] is { GivenBack: not null } segment ? segment : null);

        Assert.Equal(JobStatus.Preprocessing, given.Status);
        Assert.EndsWith(StoppingReason, given.GivenBack, StringComparison.Ordinal);
        Assert.Equal(0, given.Iteration);
        Assert.DoesNotContain(JobStage.StageSecondsField(JobStatus.Preprocessing), given.Fields.Keys);
        var expired = Assert.Single(await Jobs.ListExpiredSegmentLeasesAsync(DateTimeOffset.UtcNow, 10));
        Assert.Equal((id, 1), (expired.JobId, expired.Segment.Index));
        Assert.Equal(JobStatus.Enqueue, (await Jobs.GetSegmentsAsync(id))[0].Status);

        Assert.True(await _host.Services.GetRequiredService<StuckJobSweeper>().SweepAsync(CancellationToken.None) >= 1);
        var history = (await Jobs.GetSegmentHistoryAsync(id)).Where(t => t.Segment == 1).Select(t => t.Status);
        Assert.Equal([JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Enqueue], history.Take(3));
        var (job, segments) = (await Jobs.GetAsync(id), await Jobs.GetSegmentsAsync(id));
        Assert.Equal((0, 0, null), (segments[1].Iteration, job!.Iteration, job.Error));
    }

    // The router delivers on its own tasks: wait (at most 30 s) for what the delivery leaves in the job table.
    private static async Task<T> PollAsync<T>(Func<Task<T?>> read)
        where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (await read() is { } value)
                return value;
            Assert.True(DateTime.UtcNow < deadline, "the stage never gave the event's work back");
            await Task.Delay(50);
        }
    }

    private sealed class SameId : IEqualityComparer<Job>
    {
        public bool Equals(Job? x, Job? y) => x?.Id == y?.Id;

        public int GetHashCode(Job obj) => obj.Id.GetHashCode();
    }

    private sealed class NoProgress : IStageProgressSink
    {
        public void Report(StageProgress progress)
        {
        }
    }
}
