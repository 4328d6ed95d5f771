using GEdge.Contracts;

namespace GEdge.Cluster.Tests;

/// <summary>
/// Edge A: a cluster with no Infer process at all (<c>--scale infer=0</c>, as a cluster without a GPU node), segments of
/// about two seconds, and edge B as its peer under the key B issued for A's user, segments going there after a second's
/// wait.
/// </summary>
public sealed class EdgeWithoutInferFixture(ClusterFixture peer) : ClusterFixture
{
    protected override IReadOnlyList<string> ServeArguments => ["--scale", "infer=0"];

    protected override IReadOnlyDictionary<string, string> ServeEnvironment => new Dictionary<string, string>
    {
        ["Segments__Seconds"] = "2",
        ["Peers__Edges__0__Name"] = "b",
        ["Peers__Edges__0__Gateway"] = peer.Gateway.ToString(),
        ["Peers__Edges__0__Keys__local"] = peer.ApiKey,
        ["Peers__SpillAfter"] = "00:00:01",
    };
}

/// <summary>Two edges on one machine, each its own <c>gedge serve</c> (own job table, storage and ports): B, then A.</summary>
public sealed class TwoEdgesFixture : IAsyncLifetime
{
    /// <summary>The peer: a plain cluster.</summary>
    public ClusterFixture B { get; } = new();

    /// <summary>The edge without Infer, B its peer; made once B runs.</summary>
    public ClusterFixture A { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await B.InitializeAsync();
        A = new EdgeWithoutInferFixture(B);
        await A.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        if (A is not null)
        {
            await A.DisposeAsync();
        }

        await B.DisposeAsync();
    }
}

/// <summary>Spill-over: an edge's segments inferred on a peer edge, and the job finishing at home as if they had stayed.</summary>
public sealed class PeerSpillTests(TwoEdgesFixture edges) : IClassFixture<TwoEdgesFixture>
{
    private static readonly TimeSpan s_jobTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task AJobOnAnEdgeWithoutInfer_HasEverySegmentInferredOnItsPeer_EndsWithThePeersOwnResults_AndThePeerKeepsNothing()
    {
        var clip = await TestClips.FiveTimesAsync();
        // What B makes of the clip on its own, in one job.
        var alone = await edges.B.WaitForJobExitAsync(await edges.B.SubmitAsync(clip), s_jobTimeout);
        Assert.Null(alone.Error);

        var job = await edges.A.WaitForJobExitAsync(await edges.A.SubmitAsync(clip), s_jobTimeout);
        Assert.Null(job.Error);
        Assert.Equal(0, job.Iteration);

        // Every segment was inferred and annotated by the spill worker for B, and says so; none failed.
        var segments = await edges.A.Jobs.GetSegmentsAsync(job.Id);
        Assert.True(segments.Count >= 3, $"the clip was cut into {segments.Count} segments");
        Assert.All(segments, s => Assert.StartsWith("b (job ", s.Fields["peer"], StringComparison.Ordinal));
        Assert.All(segments, s => Assert.Equal(0, s.Iteration));
        var history = await edges.A.Jobs.GetSegmentHistoryAsync(job.Id);
        Assert.All(
            history.Where(t => t.Status is JobStatus.Inferencing or JobStatus.Postprocessing),
            t => Assert.StartsWith("spill:b@", t.Worker, StringComparison.Ordinal));
        Assert.Equal(segments.Count, history.Count(t => t.Status == JobStatus.Inferencing));

        // The results are those of B alone: per-frame detections, frame count, size, rate and audio.
        Assert.Equal(await JobResultsFacts.ReadAsync(edges.B.ResultsFolder(alone)), await JobResultsFacts.ReadAsync(edges.A.ResultsFolder(job)));
        Assert.True(await edges.A.WorkFolderRemovedAsync(job.Id));

        // B kept nothing of A's: with its own job deleted too, its storage holds no file at all.
        using (var deleted = await edges.B.Api.DeleteAsync($"api/jobs/{alone.Id}"))
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, deleted.StatusCode);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Directory.EnumerateFiles(edges.B.Storage, "*", SearchOption.AllDirectories).ToList() is { Count: > 0 } left)
        {
            Assert.True(DateTime.UtcNow < deadline, $"B still holds: {string.Join(", ", left)}");
            await Task.Delay(200);
        }
    }
}
