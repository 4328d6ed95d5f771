using GEdge.Contracts;
using GEdge.JobTable;
using Xunit.Abstractions;

namespace GEdge.Cluster.Tests;

/// <summary>
/// Fifty videos at once on the local cluster: every job reaches Exit with the results a lone run gives, and the job table
/// holds exactly fifty jobs. The throughput and the longest waits are printed, never asserted.
/// </summary>
[Collection(OneClusterAtATime.Name)]
public sealed class LoadTests(ClusterFixture cluster, ITestOutputHelper output) : IClassFixture<ClusterFixture>, IDisposable
{
    private const int Videos = 50;
    private readonly string _scratch = Directory.CreateTempSubdirectory("gedge-load-test-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task FiftyVideosSubmittedAtOnce_AllReachExitWithTheirResults_AndTheTableHoldsFiftyJobs()
    {
        await ClusterScenarios.ManyAtOnceAsync(cluster, Videos, _scratch, output);

        // The class's own cluster: the fifty are every job its table holds.
        Assert.Equal(Videos, (long)await cluster.Redis.GetDatabase().StringGetAsync("gedge:jobs:next-id"));
        Assert.Equal(Videos, (await cluster.Jobs.ListByStatusAsync(JobStatus.Exit, JobTable.JobTable.MaxPageSize)).Count);
    }
}
