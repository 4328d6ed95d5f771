using System.Diagnostics;
using System.Globalization;
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
        var video = await TestClips.ShortAsync();
        var alone = Path.Combine(_scratch, "alone");
        var run = await ClusterFixture.RunGedgeAsync(["run", video, "--out", alone], _scratch);
        Assert.True(run.ExitCode == 0, $"gedge run failed:{Environment.NewLine}{run.Error}{run.Output}");
        var expected = await JobResultsFacts.ReadAsync(alone);

        var clock = Stopwatch.StartNew();
        var ids = await Task.WhenAll(Enumerable.Range(0, Videos).Select(_ => cluster.SubmitAsync(video)));
        var submitted = clock.Elapsed;
        var jobs = new List<Job>(Videos);
        foreach (var id in ids.Order())
        {
            jobs.Add(await cluster.WaitForJobExitAsync(id, TimeSpan.FromMinutes(10), TimeSpan.FromMilliseconds(250)));
        }

        var allDone = clock.Elapsed;
        Assert.All(jobs, job => Assert.True(job.Error is null, $"job {job.Id}: {job.Error}"));
        Assert.Equal(Videos, (long)await cluster.Redis.GetDatabase().StringGetAsync("gedge:jobs:next-id"));
        Assert.Equal(Enumerable.Range(1, Videos).Select(i => (long)i), ids.Order());
        Assert.Equal(Videos, (await cluster.Jobs.ListByStatusAsync(JobStatus.Exit, JobTable.JobTable.MaxPageSize)).Count);
        foreach (var job in jobs)
        {
            Assert.Equal(expected, await JobResultsFacts.ReadAsync(cluster.ResultsFolder(job)));
        }

        // The figures, from the job table's own times: created (upload stored), start (a stage took it), end (Exit).
        var first = jobs.Min(j => j.CreatedTime!.Value);
        var last = jobs.Max(j => j.EndTime!.Value);
        var span = last - first;
        var frames = Videos * expected.Video.Frames;
        var longestTotal = jobs.MaxBy(j => j.EndTime!.Value - j.CreatedTime!.Value)!;
        var longestQueued = jobs.MaxBy(j => j.StartTime!.Value - j.CreatedTime!.Value)!;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Videos} jobs of {expected.Video.Frames} frames ({expected.Video.Width}x{expected.Video.Height}) on {Environment.ProcessorCount} cores"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"uploads took {submitted.TotalSeconds:0.0} s; all in Exit {allDone.TotalSeconds:0.0} s after the first upload began"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"throughput: {Videos / span.TotalMinutes:0.0} jobs/min, {frames / span.TotalSeconds:0.0} frames/s ({span.TotalSeconds:0.0} s from the first upload stored to the last Exit)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"longest wait, upload to Exit: {(longestTotal.EndTime - longestTotal.CreatedTime)!.Value.TotalSeconds:0.0} s (job {longestTotal.Id})"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"longest queued, upload to the first stage: {(longestQueued.StartTime - longestQueued.CreatedTime)!.Value.TotalSeconds:0.0} s (job {longestQueued.Id})"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"iterations above 0: {jobs.Count(j => j.Iteration > 0)}"));
    }
}
