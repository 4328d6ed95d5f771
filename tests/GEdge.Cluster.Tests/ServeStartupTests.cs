using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace GEdge.Cluster.Tests;

/// <summary>
/// `gedge serve` that cannot start says which process or port is at fault, and why, and exits non-zero; told to stop, it
/// stops its processes as a kubelet would.
/// </summary>
[Collection(OneClusterAtATime.Name)]
public sealed class ServeStartupTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("gedge-serve-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Serve_WhenAProcessDiesAtStart_ExitsNonZero_NamingItAndWhatItsLogSays()
    {
        // A setting the broker refuses: it exits at start, as a broken configuration or image would.
        var serve = await ClusterFixture.RunGedgeAsync(["serve", "--port", "0"], _root, new Dictionary<string, string> { ["Broker__MaxConcurrentDeliveries"] = "0" });

        Assert.Equal(1, serve.ExitCode);
        Assert.StartsWith("gedge: the cluster did not start: broker exited with code 1 while starting. The end of ", serve.Error, StringComparison.Ordinal);
        Assert.Contains("gedge: the broker could not start: Broker:MaxConcurrentDeliveries must be at least 1, not 0.", serve.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("local cluster ready", serve.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ToldToStop_AsksEveryProcessToStopFirst_AsAKubeletStopsAPod_AndExitsZero()
    {
        var cluster = new ClusterFixture();
        await cluster.InitializeAsync();
        try
        {
            Assert.Equal(0, await cluster.StopServeAsync());

            // A host that SIGTERM reached logs its orderly shutdown; a killed one ends its log mid-run.
            foreach (var process in new[] { "gateway", "broker", "preprocess", "infer", "postprocess" })
            {
                var log = await File.ReadAllTextAsync(Path.Combine(cluster.Logs, process + ".log"));
                Assert.True(log.Contains("Application is shutting down...", StringComparison.Ordinal), $"{process} was not asked to stop:{Environment.NewLine}{log}");
            }

            Assert.Contains("gedge: stopping the cluster", cluster.Output(), StringComparison.Ordinal);
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task Serve_WhenItsPortIsTaken_ExitsNonZero_SayingWhichPort()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);

        var serve = await ClusterFixture.RunGedgeAsync(["serve", "--port", port], _root);

        Assert.Equal(1, serve.ExitCode);
        Assert.Equal(
            $"gedge: the cluster did not start: port {port}, for the gateway, is in use; choose another --port (it and the four after it are used), or --port 0 for free ports.{Environment.NewLine}",
            serve.Error);
        Assert.Equal("", serve.Output);
    }
}
