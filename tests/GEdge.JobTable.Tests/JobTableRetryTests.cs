using GEdge.Contracts;
using GEdge.Metrics;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GEdge.JobTable.Tests;

/// <summary>
/// The job table's retries (<see cref="JobTableResilience"/>) on their own, with no broker redelivery or sweeper behind
/// them to hide their absence: a real redis-server, with its append-only file, is killed while a job-table call is under
/// way and started again a moment later, as a job-table pod that is rescheduled. The call must come through; without
/// the retries the same outage fails it, which shows the outage is longer than one attempt can wait.
/// </summary>
public sealed class JobTableRetryTests(JobTableRetryTests.RestartingRedisFixture server)
    : IClassFixture<JobTableRetryTests.RestartingRedisFixture>
{
    // Well inside the retries' budget (six, from 200 ms doubling), and long enough for several of them.
    private static readonly TimeSpan s_outage = TimeSpan.FromSeconds(1.5);

    [Fact]
    public async Task AClaim_WhileTheServerRestarts_IsRetriedUntilItComesBack_AndTakesEffectOnce()
    {
        var logs = new FakeLogCollector();
        await using var connection = await ConnectAsync();
        var table = NewTable(connection, retryAttempts: new JobTableOptions().RetryAttempts, logs);
        var id = (await table.CreateAsync(new NewJob("alice", "uploads/alice/clip.mp4", "mp4", "v1"))).Job.Id;

        await server.KillAsync();
        var restart = RestartAfterOutageAsync();
        var claimed = await table.TryClaimAsync(id, JobStatus.Preprocessing);
        await restart;

        Assert.True(claimed, logs.Problems());
        Assert.Contains(logs.GetSnapshot(), record => record.Message.Contains("retry", StringComparison.OrdinalIgnoreCase));
        // Once: the job is in the status the claim moved it to, with one transition for it, and the server kept job 1.
        var job = await table.GetAsync(id);
        Assert.Equal((JobStatus.Preprocessing, 0), (job!.Status, job.Iteration));
        Assert.Equal([JobStatus.Enqueue, JobStatus.Preprocessing], (await table.GetHistoryAsync(id)).Select(t => t.Status));
    }

    [Fact]
    public async Task WithoutRetries_TheSameOutage_FailsTheCall_WithATransientFault()
    {
        await using var connection = await ConnectAsync();
        var table = NewTable(connection, retryAttempts: 0, new FakeLogCollector());
        var id = (await table.CreateAsync(new NewJob("alice", "uploads/alice/clip.mp4", "mp4", "v2"))).Job.Id;

        await server.KillAsync();
        var restart = RestartAfterOutageAsync();
        var failure = await Record.ExceptionAsync(() => table.TryClaimAsync(id, JobStatus.Preprocessing));
        await restart;

        Assert.NotNull(failure);
        Assert.True(JobTableResilience.IsTransient(failure), $"not a transient fault: {failure}");
    }

    private async Task RestartAfterOutageAsync()
    {
        await Task.Delay(s_outage);
        await server.StartAgainAsync();
    }

    // The client fails a call at once while it has no connection (BacklogPolicy.FailFast), where by default it would
    // hold the call in its backlog until it reconnects or the call's timeout (5 s) runs out: a short outage would then
    // be ridden out by the client and the retries never reached. It reconnects by itself once the server is back, here
    // tried every 250 ms (its default backs off exponentially, which on a loaded machine could outlast the retries and
    // make the test about the client's cadence); the first connection is made before this returns (AbortOnConnectFail,
    // the default), so a test starts connected.
    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var configuration = ConfigurationOptions.Parse(server.ConnectionString);
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ReconnectRetryPolicy = new LinearRetry(250);
        return await ConnectionMultiplexer.ConnectAsync(configuration);
    }

    private static JobTable NewTable(IConnectionMultiplexer connection, int retryAttempts, FakeLogCollector logs) =>
        new(connection,
            Options.Create(new JobTableOptions { KeyPrefix = $"test:{Guid.NewGuid():N}", RetryAttempts = retryAttempts }),
            TimeProvider.System,
            new GEdgeMetrics(),
            new FakeLogger<JobTable>(logs));

    /// <summary>A redis-server that writes every change to its append-only file before answering, so a kill loses nothing.</summary>
    public sealed class RestartingRedisFixture : RedisServerFixture
    {
        protected override IEnumerable<string> PersistenceArguments => ["--save", "", "--appendonly", "yes", "--appendfsync", "always"];
    }
}
