using GEdge.Contracts;
using GEdge.JobTable;

namespace GEdge.Cluster.Tests;

/// <summary>A cluster whose node offers one core (<c>gedge serve --cores 1</c>), with segments of about a second.</summary>
public sealed class OneCoreClusterFixture : ClusterFixture
{
    protected override IReadOnlyList<string> ServeArguments => ["--cores", "1"];

    protected override IReadOnlyDictionary<string, string> ServeEnvironment => new Dictionary<string, string> { ["Segments__Seconds"] = "1" };
}

/// <summary>The local cluster runs no more stage requests at once than its node has cores, and its stages still overlap.</summary>
[Collection(OneClusterAtATime.Name)]
public sealed class NodeCoresTests(OneCoreClusterFixture cluster) : IClassFixture<OneCoreClusterFixture>
{
    [Fact]
    public async Task OnANodeOfOneCore_NoTwoStageRequestsRunAtOnce_YetInferStartsBeforePreprocessHasDoneEverySegment()
    {
        // Five segments: preprocess alone would take two at once (its containerConcurrency), infer and postprocess one
        // each, all while the others run; the one core lets one of them run at a time.
        var id = await cluster.SubmitAsync(await TestClips.FiveTimesAsync());
        var job = await cluster.WaitForJobExitAsync(id, TimeSpan.FromMinutes(4));

        Assert.Null(job.Error);
        var history = await cluster.Jobs.GetSegmentHistoryAsync(id);
        var spans = StageSpan.AllIn(history);
        Assert.Equal(PipelineTopology.Stages.Count * (await cluster.Jobs.GetSegmentsAsync(id)).Count, spans.Count);
        Assert.True(spans.Count >= 3 * 4, $"the clip was cut into {spans.Count / 3} segments");
        var overlapping = spans.SelectMany(a => spans.Where(b => a != b && a.Start < b.End && b.Start < a.End).Select(b => $"{a} with {b}")).FirstOrDefault();
        Assert.True(overlapping is null, $"two stage requests ran at once on one core: {overlapping}");

        // Waiting for the core first come, first served, infer's first segment runs between preprocess's.
        Assert.True(
            spans.Where(s => s.Stage == PipelineTopology.Infer).Min(s => s.Start) < spans.Where(s => s.Stage == PipelineTopology.Preprocess).Max(s => s.End),
            "Infer waited for Preprocess to finish every segment");
    }
}
