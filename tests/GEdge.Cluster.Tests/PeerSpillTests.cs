using System.Net.Http.Json;
using GEdge.Contracts;

namespace GEdge.Cluster.Tests;

/// <summary>
/// Edge A: a cluster with no Infer process at all (<c>--scale infer=0</c>, as a cluster without a GPU node), segments of
/// about two seconds, and edge B as its peer under the key B issued for A's user, segments going there after a second's
/// wait.
/// </summary>
public sealed class EdgeWithoutInferFixture(ClusterFixture peer) : ClusterFixture
{
    /// <summary>The key of bob, a second user of A, for whom A holds no key of B's.</summary>
    public string BobsKey { get; } = GEdge.Gateway.ApiKeys.New();

    protected override IReadOnlyList<string> ServeArguments => ["--scale", "infer=0"];

    protected override IReadOnlyDictionary<string, string> ServeEnvironment => new Dictionary<string, string>
    {
        ["Gateway__ApiKeys__0__User"] = "bob",
        ["Gateway__ApiKeys__0__Sha256"] = GEdge.Gateway.ApiKeys.Hash(BobsKey),
        ["Segments__Seconds"] = "2",
        ["Peers__Edges__0__Name"] = "b",
        ["Peers__Edges__0__Gateway"] = peer.Gateway.ToString(),
        ["Peers__Edges__0__Keys__local"] = peer.ApiKey,
        ["Peers__SpillAfter"] = "00:00:01",
        // A peer that fails is asked again two seconds later, and the peer's restarted gateway answers by then.
        ["Peers__PeerBackoff"] = "00:00:02",
        ["Peers__ReconcileInterval"] = "00:00:02",
    };
}

/// <summary>
/// Edge C: a plain cluster, with B as its peer under a key B never issued; segments of about two seconds, due there as
/// soon as they wait for Infer (and they do: one Infer process takes one at a time).
/// </summary>
public sealed class EdgeWithAWrongKeyFixture(ClusterFixture peer) : ClusterFixture
{
    protected override IReadOnlyDictionary<string, string> ServeEnvironment => new Dictionary<string, string>
    {
        ["Segments__Seconds"] = "2",
        ["Peers__Edges__0__Name"] = "b",
        ["Peers__Edges__0__Gateway"] = peer.Gateway.ToString(),
        ["Peers__Edges__0__Keys__local"] = "gedge_" + new string('x', 43),
        ["Peers__SpillAfter"] = "00:00:00",
    };
}

/// <summary>
/// Edge B, the peer: a plain cluster whose sweeps come every two seconds and take an upload that has not become a job
/// within five for abandoned (a gateway killed while A's segment streamed in leaves its unfinished write).
/// </summary>
public sealed class PeerEdgeFixture : ClusterFixture
{
    protected override IReadOnlyDictionary<string, string> ServeEnvironment => new Dictionary<string, string>
    {
        ["Sweeper__Interval"] = "00:00:02",
        ["Sweeper__AbandonedUploadAfter"] = "00:00:05",
    };
}

/// <summary>Three edges on one machine, each its own <c>gedge serve</c> (own job table, storage and ports): B, then A and C.</summary>
public sealed class EdgesFixture : IAsyncLifetime
{
    /// <summary>The peer: a plain cluster, sweeping often (<see cref="PeerEdgeFixture"/>).</summary>
    public ClusterFixture B { get; } = new PeerEdgeFixture();

    /// <summary>The edge without Infer, B its peer; made once B runs.</summary>
    public EdgeWithoutInferFixture A { get; private set; } = null!;

    /// <summary>An edge with Infer and a wrong key for B.</summary>
    public ClusterFixture C { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await B.InitializeAsync();
        A = new EdgeWithoutInferFixture(B);
        C = new EdgeWithAWrongKeyFixture(B);
        await Task.WhenAll(A.InitializeAsync(), C.InitializeAsync());
    }

    public async Task DisposeAsync()
    {
        foreach (var edge in new[] { A, C })
        {
            if (edge is not null)
            {
                await edge.DisposeAsync();
            }
        }

        await B.DisposeAsync();
    }
}

/// <summary>Spill-over: an edge's segments inferred on a peer edge, and the job finishing at home as if they had stayed.</summary>
public sealed class PeerSpillTests(EdgesFixture edges) : IClassFixture<EdgesFixture>
{
    private static readonly TimeSpan s_jobTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task AJobOnAnEdgeWithoutInfer_HasEverySegmentInferredOnItsPeer_EvenWhenThePeersProcessesAreKilled_AndThePeerKeepsNothing()
    {
        // What each edge tells a peer: A runs no Infer process, B one, on its CPU; each runs one of the other stages. (A
        // process says so on its own beat, a moment after it is ready: read until it has.)
        Assert.Equal([1, 0, 1], (await CapacityAsync(edges.A, [1, 0, 1])).Stages.Select(s => s.Processes));
        var capacityOfB = await CapacityAsync(edges.B, [1, 1, 1]);
        Assert.Equal([1, 1, 1], capacityOfB.Stages.Select(s => s.Processes));
        Assert.All(capacityOfB.Stages, s => Assert.False(s.Gpu));

        var clip = await TestClips.FiveTimesAsync();
        // What B makes of the clip on its own, in one job.
        var alone = await edges.B.WaitForJobExitAsync(await edges.B.SubmitAsync(clip), s_jobTimeout);
        Assert.Null(alone.Error);

        var job = await edges.A.WaitForJobExitAsync(await edges.A.SubmitAsync(clip), s_jobTimeout);
        Assert.Null(job.Error);
        Assert.Equal(0, job.Iteration);

        await AssertAllSpilledAsync(job);

        // The results are those of B alone: per-frame detections, frame count, size, rate and audio.
        Assert.Equal(await JobResultsFacts.ReadAsync(edges.B.ResultsFolder(alone)), await JobResultsFacts.ReadAsync(edges.A.ResultsFolder(job)));
        Assert.True(await edges.A.WorkFolderRemovedAsync(job.Id));

        // Again, with every process of B killed outright (its gateway, broker and stage processes) while one of the
        // segments runs there as B's job: A loses sight of it, takes it back, sends it again once B's gateway is up, and
        // the job ends the same, no segment's attempt counted (none failed at A).
        var second = await edges.A.SubmitAsync(clip);
        var away = DateTime.UtcNow + s_jobTimeout;
        var segmentName = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"job-{second}-segment-");
        while (!(await edges.B.Jobs.ListByStatusAsync(JobStatus.Preprocessing, 100)).Concat(await edges.B.Jobs.ListByStatusAsync(JobStatus.Preprocessing_complete, 100))
            .Any(j => j.Path.Contains(segmentName, StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < away, "no segment of the second job ran on B");
            await Task.Delay(20);
        }

        string[] processesOfB = ["gateway", "broker", "preprocess", "infer", "postprocess"];
        await Task.WhenAll(processesOfB.Select(name => ClusterFixture.SignalAsync(edges.B.FunctionPid(name), "KILL")));
        var disturbed = await edges.A.WaitForJobExitAsync(second, s_jobTimeout);
        Assert.Null(disturbed.Error);
        Assert.Equal(0, disturbed.Iteration);
        await AssertAllSpilledAsync(disturbed);
        Assert.Equal(await JobResultsFacts.ReadAsync(edges.B.ResultsFolder(alone)), await JobResultsFacts.ReadAsync(edges.A.ResultsFolder(disturbed)));

        // A job of A's at B that no segment of A waits on (a submission whose answer never came back looks like this) is
        // deleted by A's reconciliation, though A never learnt its number: named as a spilled segment's upload is, for a
        // segment of a job A does not have.
        var orphanUpload = Path.Combine(Path.GetDirectoryName(clip)!, "job-999999-segment-0-0123456789ab.mp4");
        File.Copy(clip, orphanUpload, overwrite: true);
        var orphan = await edges.B.SubmitAsync(orphanUpload);
        var reconciled = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await edges.B.Jobs.GetAsync(orphan) is not null)
        {
            Assert.True(DateTime.UtcNow < reconciled, $"A's reconciliation left its job {orphan} at B");
            await Task.Delay(200);
        }

        // B kept nothing of A's, the jobs its gateway lost included: with its own job deleted too (still there: its upload
        // is not named as A's are, so A's reconciliation left it alone), its storage holds no file at all.
        foreach (var name in processesOfB)
        {
            await edges.B.WaitForServeLinesAsync($"gedge: {name} started again", 1, TimeSpan.FromSeconds(30));
        }

        using (var deleted = await edges.B.Api.DeleteAsync($"api/jobs/{alone.Id}"))
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, deleted.StatusCode);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Directory.EnumerateFiles(edges.B.Storage, "*", SearchOption.AllDirectories).ToList() is { Count: > 0 } left)
        {
            if (DateTime.UtcNow >= deadline)
            {
                var jobsOfA = (await edges.B.Jobs.ListByUserAsync("local", 0, 100)).Jobs.Select(j => $"{j.Id} {j.Status} {j.Path} {j.Error}");
                Assert.Fail($"B still holds: {string.Join(", ", left)}; its jobs of A's user: {string.Join("; ", jobsOfA)}");
            }

            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task AUserWithNoKeyForThePeer_NeverHasASegmentSentThere_EvenUnderAnotherUsersKey()
    {
        // bob's segments wait for an Infer that A does not have, many ticks past the spill bound; A holds a key of B's
        // for local only, and bob's segments do not go under it.
        using var bob = new HttpClient { BaseAddress = edges.A.Gateway, Timeout = TimeSpan.FromSeconds(30) };
        bob.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", edges.A.BobsKey);
        var clip = await TestClips.FiveTimesAsync();
        await using var file = File.OpenRead(clip);
        using var content = new StreamContent(file);
        using var created = await bob.PostAsync("api/jobs?name=bobs.mp4", content);
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var id = long.Parse((await created.Content.ReadFromJsonAsync(GEdge.Gateway.GatewayJsonContext.Default.JobView))!.Job[GEdge.JobTable.JobFields.Id], System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal("bob", (await edges.A.Jobs.GetAsync(id))!.User);
        var deadline = DateTime.UtcNow + s_jobTimeout;
        while (await edges.A.Jobs.GetSegmentsAsync(id) is not { Count: > 0 } segments || segments.Any(s => s.Status != JobStatus.Preprocessing_complete))
        {
            Assert.True(DateTime.UtcNow < deadline, "bob's segments were not all preprocessed");
            await Task.Delay(100);
        }

        await Task.Delay(TimeSpan.FromSeconds(5));

        Assert.All(await edges.A.Jobs.GetSegmentsAsync(id), s => Assert.Equal(JobStatus.Preprocessing_complete, s.Status));
        Assert.DoesNotContain(await edges.A.Jobs.GetSegmentHistoryAsync(id), t => t.Worker?.StartsWith("spill:", StringComparison.Ordinal) == true);
        var segmentName = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"job-{id}-segment-");
        Assert.DoesNotContain((await edges.B.Jobs.ListByUserAsync("local", 0, 100)).Jobs, j => j.Path.Contains(segmentName, StringComparison.Ordinal));

        using var cancelled = await bob.DeleteAsync($"api/jobs/{id}");
        Assert.True(cancelled.IsSuccessStatusCode);
    }

    [Fact]
    public async Task APeerThatRefusesTheKey_IsLeftOut_AndTheSegmentsStayLocal()
    {
        var job = await edges.C.WaitForJobExitAsync(await edges.C.SubmitAsync(await TestClips.LongAsync()), s_jobTimeout);

        Assert.Null(job.Error);
        var history = await edges.C.Jobs.GetSegmentHistoryAsync(job.Id);
        Assert.DoesNotContain(history, t => t.Worker?.StartsWith("spill:", StringComparison.Ordinal) == true);
        Assert.All(await edges.C.Jobs.GetSegmentsAsync(job.Id), s => Assert.False(s.Fields.ContainsKey("peer")));
        Assert.Contains("The peer b is left out", File.ReadAllText(Path.Combine(edges.C.Logs, "gateway.log")), StringComparison.Ordinal);
        Assert.Contains("401", File.ReadAllText(Path.Combine(edges.C.Logs, "gateway.log")), StringComparison.Ordinal);
    }

    // The edge's capacity once its processes per stage are those expected, or as it is after 15 s.
    private static async Task<GEdge.Jobs.EdgeCapacity> CapacityAsync(ClusterFixture edge, int[] processes)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var capacity = (await edge.Api.GetFromJsonAsync("api/capacity", GEdge.Gateway.GatewayJsonContext.Default.EdgeCapacity))!;
            if (capacity.Stages.Select(s => s.Processes).SequenceEqual(processes) || DateTime.UtcNow > deadline)
            {
                return capacity;
            }

            await Task.Delay(200);
        }
    }

    // Every segment was inferred and annotated by the spill worker for B, and says so; none failed.
    private async Task AssertAllSpilledAsync(GEdge.JobTable.Job job)
    {
        var segments = await edges.A.Jobs.GetSegmentsAsync(job.Id);
        Assert.True(segments.Count >= 3, $"the clip was cut into {segments.Count} segments");
        Assert.All(segments, s => Assert.StartsWith("b (job ", s.Fields["peer"], StringComparison.Ordinal));
        Assert.All(segments, s => Assert.Equal(0, s.Iteration));
        var history = await edges.A.Jobs.GetSegmentHistoryAsync(job.Id);
        Assert.All(
            history.Where(t => t.Status is JobStatus.Inferencing or JobStatus.Postprocessing),
            t => Assert.StartsWith("spill:b@", t.Worker, StringComparison.Ordinal));
        Assert.Equal(segments.Count, history.Count(t => t.Status == JobStatus.Postprocessing));
    }
}
