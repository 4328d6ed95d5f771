using GEdge.Artifacts;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace GEdge.Functions.Tests;

/// <summary>
/// The sweeper on a timer, as the embedded host (<c>gedge run</c>) runs it where no PingSource drives it: a job whose
/// worker died is taken back without anyone asking.
/// </summary>
[Collection(OneGarnetServer.Name)]
public sealed class StuckJobSweepTimerTests(GarnetFixture garnet) : IDisposable
{
    private readonly string _storage = Directory.CreateTempSubdirectory("gedge-sweep-timer-").FullName;

    public void Dispose() => Directory.Delete(_storage, recursive: true);

    [Fact]
    public async Task TheTimer_TakesBackAJobWhoseLeaseRanOut_AndAnnouncesIt_OnItsOwn()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["JobTable:ConnectionString"] = garnet.ConnectionString,
            ["JobTable:KeyPrefix"] = "sweep-timer-" + Guid.NewGuid().ToString("N"),
            ["Sweeper:Interval"] = "00:00:00.1",
        });
        var broker = new RecordingPublisher();
        builder.Services
            .AddJobTable(builder.Configuration)
            .AddSingleton<IObjectStore>(new LocalFolderObjectStore(_storage))
            .AddSingleton<IEventPublisher>(broker)
            // What every host that ends jobs adds: the swept job's intermediates go by its manifests.
            .AddJobIntermediates()
            .AddStuckJobSweepTimer();
        using var host = builder.Build();
        var jobs = host.Services.GetRequiredService<JobTable.JobTable>();
        var id = (await jobs.CreateAsync(new NewJob("alice", "uploads/alice/clip.mp4", "mp4", "v1"))).Job.Id;
        // A worker claims the job and dies: its lease runs out and nobody renews it.
        Assert.True(await jobs.TryClaimAsync(id, JobStatus.Preprocessing, TimeSpan.FromMilliseconds(50)));

        await host.StartAsync();
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            // The sweep moves the job, then announces it: wait for both.
            while (!broker.Published.Any(e => e.Id == $"job-{id}-Enqueue-1"))
            {
                await Task.Delay(20, deadline.Token);
            }
        }
        finally
        {
            await host.StopAsync();
        }

        var job = (await jobs.GetAsync(id))!;
        Assert.Equal((JobStatus.Enqueue, 1), (job.Status, job.Iteration));
        Assert.StartsWith("Preprocessing stopped: its lease ran out", job.LastError, StringComparison.Ordinal);
    }
}
