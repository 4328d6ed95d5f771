using System.Globalization;
using GEdge.Contracts;
using GEdge.JobTable;

namespace GEdge.Cluster.Tests;

/// <summary>
/// A cluster running postprocess as three processes (<c>gedge serve --scale postprocess=3</c>), with segments of about a
/// second and the reliability fixture's settings (short leases, quick sweeps), so that one video's segments spread over the processes and a
/// killed one's segment is taken back in seconds.
/// </summary>
public sealed class ScaledClusterFixture : ClusterFixture
{
    // No limit on cores: what is tested is how the broker spreads one job over a stage's processes, which a 2-core
    // machine's limit (two stage requests at once, of any stage) would leave to chance.
    protected override IReadOnlyList<string> ServeArguments => ["--scale", "postprocess=3", "--cores", "0"];

    protected override IReadOnlyDictionary<string, string> ServeEnvironment =>
        new Dictionary<string, string>(ReliabilityClusterFixture.Settings) { ["Segments__Seconds"] = "1" };
}

/// <summary>One video's segments on several processes of a stage at once, and a process killed under one of them.</summary>
public sealed class ScaleTests(ScaledClusterFixture cluster) : IClassFixture<ScaledClusterFixture>
{
    private static readonly TimeSpan s_jobTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task SegmentsOfOneJob_ArePostprocessedByTwoProcessesAtOnce_AndAKilledOnesSegmentAloneIsRedone()
    {
        Assert.Equal(["postprocess", "postprocess-2", "postprocess-3"], cluster.Services.Keys.Where(n => n.StartsWith("postprocess", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        // Five segments of about a second: enough to spread over three processes and kill one mid-segment, and short.
        var clip = await TestClips.FiveTimesAsync();
        var undisturbed = await cluster.WaitForJobExitAsync(await cluster.SubmitAsync(clip), s_jobTimeout);
        Assert.Null(undisturbed.Error);

        var id = await cluster.SubmitAsync(clip);
        // Kill -9 the process that holds a segment in Postprocessing, mid-segment.
        var (victim, worker) = await SegmentInAsync(id, JobStatus.Postprocessing);
        await ClusterFixture.SignalAsync(PidOf(worker), "KILL");
        var job = await cluster.WaitForJobExitAsync(id, s_jobTimeout, TimeSpan.FromMilliseconds(200));

        Assert.Null(job.Error);
        var segments = await cluster.Jobs.GetSegmentsAsync(id);
        Assert.True(segments.Count >= 4, $"the clip was cut into {segments.Count} segments");
        Assert.All(segments, s => Assert.Equal(s.Index == victim ? 1 : 0, s.Iteration));
        Assert.Equal(1, job.Iteration);

        // The stages overlapped within the job: Infer began on a segment before Preprocess had done the last one.
        var history = await cluster.Jobs.GetSegmentHistoryAsync(id);
        Assert.True(
            history.Where(t => t.Status == JobStatus.Inferencing).Min(t => t.Time) < history.Where(t => t.Status == JobStatus.Preprocessing_complete).Max(t => t.Time),
            "Infer waited for Preprocess to finish every segment");

        // Two processes postprocessed segments of this one job at overlapping times.
        var spans = StageSpan.AllIn(history).Where(s => s.Stage == PipelineTopology.Postprocess).ToList();
        Assert.True(
            spans.Any(a => spans.Any(b => a.Worker != b.Worker && a.Start < b.End && b.Start < a.End)),
            $"no two processes overlapped: {string.Join("; ", spans)}");
        Assert.True(spans.Select(s => s.Worker).Distinct().Count() >= 2);

        // The results are those of the run nobody disturbed.
        Assert.Equal(await JobResultsFacts.ReadAsync(cluster.ResultsFolder(undisturbed)), await JobResultsFacts.ReadAsync(cluster.ResultsFolder(job)));
        Assert.True(await cluster.WorkFolderRemovedAsync(id));
    }

    // Waits for a segment of the job in `status`; returns it and the process working on it.
    private async Task<(int Segment, string Worker)> SegmentInAsync(long id, JobStatus status)
    {
        using var deadline = new CancellationTokenSource(s_jobTimeout);
        while (true)
        {
            foreach (var segment in await cluster.Jobs.GetSegmentsAsync(id))
            {
                if (segment.Status == status && segment.Worker is { } worker)
                {
                    return (segment.Index, worker);
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), deadline.Token);
        }
    }

    private static int PidOf(string worker) => int.Parse(worker[(worker.LastIndexOf('/') + 1)..], CultureInfo.InvariantCulture);
}
