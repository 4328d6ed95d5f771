using System.Globalization;
using System.Text.RegularExpressions;

namespace GEdge.Cluster.Tests;

/// <summary>
/// <c>gedge serve</c> on a machine without redis-server: its PATH is a folder that holds the tools the cluster needs
/// (ffmpeg, ffprobe, dotnet) and nothing else, so serve must fall back to the embedded Garnet server, as the README says.
/// </summary>
public sealed class NoRedisClusterFixture : ClusterFixture
{
    private readonly string _tools;

    public NoRedisClusterFixture()
    {
        // Under the cluster's folder, so it goes with it.
        _tools = Directory.CreateDirectory(Path.Combine(Root, "tools")).FullName;
        foreach (var tool in new[] { "ffmpeg", "ffprobe" })
        {
            File.CreateSymbolicLink(Path.Combine(_tools, tool), FindOnPath(tool) ?? throw new InvalidOperationException($"{tool} is not on the PATH."));
        }

        // dotnet as a copy of the muxer beside links to its runtimes (it finds them beside itself), not as a link: serve
        // starts its processes with its own executable's path, resolved through links, and a test deletes this copy to
        // take that executable away.
        var dotnet = new FileInfo(FindOnPath("dotnet") ?? throw new InvalidOperationException("dotnet is not on the PATH."));
        var muxer = dotnet.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? dotnet.FullName;
        Dotnet = Path.Combine(_tools, "dotnet");
        File.Copy(muxer, Dotnet);
        foreach (var folder in new[] { "host", "shared" })
        {
            Directory.CreateSymbolicLink(Path.Combine(_tools, folder), Path.Combine(Path.GetDirectoryName(muxer)!, folder));
        }
    }

    /// <summary>The dotnet executable serve and its processes run on.</summary>
    public string Dotnet { get; }

    protected override IReadOnlyDictionary<string, string> ServeEnvironment =>
        new Dictionary<string, string>(ReliabilityClusterFixture.Settings) { ["PATH"] = _tools };
}

/// <summary>
/// What serve promises as a supervisor: Garnet when there is no redis-server, a kubelet's restart backoff, and an exit
/// (with the reason) when a process can no longer be started at all. The last ends the cluster, so the tests run in the
/// order they are written here.
/// </summary>
[Collection(OneClusterAtATime.Name)]
[TestCaseOrderer(DeclarationOrder.TypeName, DeclarationOrder.AssemblyName)]
public sealed partial class ServeSupervisionTests(NoRedisClusterFixture cluster) : IClassFixture<NoRedisClusterFixture>
{
    private static readonly TimeSpan s_jobTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task WithoutRedisServer_TheJobTableIsEmbeddedGarnet_AndAJobCompletes()
    {
        Assert.Contains("(embedded Garnet, no redis-server installed; data in ", cluster.Output(), StringComparison.Ordinal);
        var info = await cluster.Redis.GetServer(cluster.Redis.GetEndPoints()[0]).InfoRawAsync("server");
        Assert.Contains("garnet", info, StringComparison.OrdinalIgnoreCase);

        var job = await cluster.WaitForJobExitAsync(await cluster.SubmitAsync(await TestClips.ShortAsync()), s_jobTimeout);

        Assert.Null(job.Error);
        Assert.Equal(0, job.Iteration);
    }

    [Fact]
    public async Task AProcessThatKeepsDyingSoonAfterItsStart_IsStartedAgainAfterADelayThatDoubles()
    {
        // Killed three times, each soon after it was started again: the second and third restarts wait a delay that
        // doubles (a process that ran 10 s or more is started at once; one that died sooner waits 1 s, then 2 s, ...).
        for (var kill = 1; kill <= 3; kill++)
        {
            var before = (await cluster.WaitForServeLinesAsync("gedge: preprocess started again", 0, TimeSpan.Zero)).Count;
            await ClusterFixture.SignalAsync(cluster.FunctionPid("preprocess"), "KILL");
            await cluster.WaitForServeLinesAsync("gedge: preprocess started again", before + 1, TimeSpan.FromSeconds(30));
        }

        var delays = (await cluster.WaitForServeLinesAsync("gedge: preprocess exited with code", 3, TimeSpan.Zero))
            .Select(line => RestartDelay().Match(line))
            .Select(match => match.Success ? double.Parse(match.Groups["seconds"].Value, CultureInfo.InvariantCulture) : 0)
            .TakeLast(3)
            .ToList();
        Assert.True(delays[1] >= 1, $"the second restart in a row did not wait: {string.Join(", ", delays)}");
        Assert.Equal(2 * delays[1], delays[2]);

        // Still a working cluster once the process stays up.
        var job = await cluster.WaitForJobExitAsync(await cluster.SubmitAsync(await TestClips.ShortAsync()), s_jobTimeout);
        Assert.Null(job.Error);
    }

    [Fact]
    public async Task AProcessThatCanNoLongerBeStarted_EndsServe_WithExitCode1_TheReason_AndNoProcessLeft()
    {
        // The executable the processes run on is gone (an upgrade removed it, a disk was unmounted): the next restart
        // cannot happen, and a cluster short of a stage for good must say so and end, not limp on.
        string[] names = ["broker", "gateway", "preprocess", "infer", "postprocess"];
        var pids = names.ToDictionary(name => name, cluster.FunctionPid);
        File.Delete(cluster.Dotnet);
        await ClusterFixture.SignalAsync(pids["infer"], "KILL");

        var exitCode = await cluster.WaitForServeExitAsync(TimeSpan.FromSeconds(60));

        Assert.True(exitCode == 1, $"serve exited with {exitCode}:{Environment.NewLine}{cluster.Output()}");
        var reason = Assert.Single(await cluster.WaitForServeLinesAsync("could not be started", 1, TimeSpan.Zero));
        Assert.Contains($"infer could not be started ({cluster.Dotnet}): no such file", reason, StringComparison.Ordinal);
        Assert.Contains("gedge: stopping the cluster.", cluster.Output(), StringComparison.Ordinal);
        Assert.All(pids, process => Assert.False(Directory.Exists($"/proc/{process.Value}"), $"{process.Key} ({process.Value}) is still running"));
    }

    [GeneratedRegex(@"starting it again in (?<seconds>[\d.]+) s \(restart")]
    private static partial Regex RestartDelay();
}
