using GEdge.Cli.Cluster;

namespace GEdge.Cluster.Tests;

/// <summary>A local cluster's child process: what it wrote before it exited is in its log by the time its exit is known.</summary>
public sealed class ClusterProcessTests : IDisposable
{
    private readonly TempFolder _folder = new("gedge-cluster-process-");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Exited_CompletesOnlyOnceTheLastLinesAreInTheLog()
    {
        // Many lines, then the one that says why, then the exit: the race serve's start-up message lost once in CI
        // (the Exited event ahead of the last lines). Repeated, since a race shows only now and then.
        for (var run = 0; run < 20; run++)
        {
            var log = _folder.PathOf($"talker-{run}.log");
            await using var process = ClusterProcess.Start(
                "talker", "/bin/sh", ["-c", "i=0; while [ $i -lt 2000 ]; do echo \"line $i\" >&2; i=$((i+1)); done; echo 'the reason it stopped' >&2; exit 3"],
                new Dictionary<string, string>(), log);

            await process.Exited.WaitAsync(TimeSpan.FromSeconds(30));

            Assert.Equal(3, process.ExitCode);
            Assert.EndsWith("the reason it stopped", process.LogTail(), StringComparison.Ordinal);
            Assert.Contains("the reason it stopped", process.ExitedUnexpectedly("while starting").Message, StringComparison.Ordinal);
        }
    }
}
