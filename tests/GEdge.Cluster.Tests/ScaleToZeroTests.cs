using System.Globalization;
using System.Text.Json;
using GEdge.Contracts;

namespace GEdge.Cluster.Tests;

/// <summary>
/// <c>gedge serve --scale-to-zero</c>: no stage process until a job needs one, stopped again after a short idle window.
/// The reliability fixture's quick sweeps are not needed: nothing is killed here.
/// </summary>
public sealed class ScaleToZeroClusterFixture : ClusterFixture
{
    /// <summary>How long a stage goes without requests before its processes stop.</summary>
    public static readonly TimeSpan IdleWindow = TimeSpan.FromSeconds(4);

    protected override IReadOnlyList<string> ServeArguments =>
        ["--scale-to-zero", "--idle-window", IdleWindow.TotalSeconds.ToString(CultureInfo.InvariantCulture)];
}

/// <summary>The stages scaled to zero and back, by the local autoscaler, around real jobs.</summary>
public sealed class ScaleToZeroTests(ScaleToZeroClusterFixture cluster) : IClassFixture<ScaleToZeroClusterFixture>
{
    private static readonly TimeSpan s_jobTimeout = TimeSpan.FromMinutes(3);
    private static readonly string[] s_stages = [.. PipelineTopology.Stages.Select(stage => stage.Name)];

    [Fact]
    public async Task NoStageRunsUntilAJobNeedsIt_EachStartsOnItsFirstEvent_AllStopAfterTheIdleWindow_AndTheNextJobCompletesTheSame()
    {
        // Ready, and a moment later still: only the gateway and the broker run.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Empty(StageProcesses());

        var video = await TestClips.FiveTimesAsync();
        var first = await cluster.WaitForJobExitAsync(await cluster.SubmitAsync(video), s_jobTimeout);
        Assert.Null(first.Error);
        foreach (var stage in s_stages)
        {
            // Started by the broker's held request, and announced once ready.
            await cluster.WaitForServeLinesAsync($"gedge: {stage} ready in ", 1, TimeSpan.FromSeconds(5));
        }

        // Every stage process stops once nothing has wanted it for the idle window, and its memory goes with it.
        await WaitUntilNoStageRunsAsync();
        await cluster.WaitForServeLinesAsync("process(es), none of its requests wanted more for", s_stages.Length, TimeSpan.FromSeconds(5));
        // The broker says so too: no stage has a ready pod or a request.
        var broker = MetricSamples.Parse(await cluster.Http.GetStringAsync(new Uri(cluster.Services["broker"], "metrics")));
        Assert.All(s_stages, stage => Assert.Equal((0, 0), (broker[$"gedge_broker_ready_pods{{service=\"{stage}\"}}"], broker[$"gedge_broker_requests{{service=\"{stage}\"}}"])));

        // Each process stopped cleanly wrote where its cold start went; Infer's has the model session and first inference.
        var coldStarts = Path.Combine(cluster.Root, ".gedge", "cluster", "cold-starts");
        var infer = Directory.GetFiles(coldStarts, "infer.*.json");
        Assert.NotEmpty(infer);
        var parts = JsonDocument.Parse(await File.ReadAllTextAsync(infer[0])).RootElement.EnumerateArray().Select(p => p.GetProperty("Name").GetString()).ToList();
        Assert.Contains("model session", parts);
        Assert.Contains("first inference", parts);
        // The node's session cache holds the optimized model for the next cold start.
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(cluster.Root, ".gedge", "cluster", "session-cache"), "*.onnx"));

        // The next job starts every stage from zero again and ends the same.
        var second = await cluster.WaitForJobExitAsync(await cluster.SubmitAsync(video), s_jobTimeout);
        Assert.Null(second.Error);
        foreach (var stage in s_stages)
        {
            await cluster.WaitForServeLinesAsync($"gedge: {stage} ready in ", 2, TimeSpan.FromSeconds(5));
        }

        Assert.Equal(await JobResultsFacts.ReadAsync(cluster.ResultsFolder(first)), await JobResultsFacts.ReadAsync(cluster.ResultsFolder(second)));
        Assert.Equal(0, first.Iteration);
        Assert.Equal(0, second.Iteration);
        await WaitUntilNoStageRunsAsync();

        // serve stops by itself when told to, the autoscaler with it (it once waited for the autoscaler, which stops only
        // once serve does, until it was killed).
        Assert.Equal(0, await cluster.StopServeAsync());
    }

    // The stage processes of the cluster that run now, by name and pid.
    private List<string> StageProcesses() =>
    [
        .. cluster.Services.Keys
            .Where(name => s_stages.Any(stage => name == stage || name.StartsWith(stage + "-", StringComparison.Ordinal)))
            .SelectMany(name => cluster.FunctionPids(name).Select(pid => string.Create(CultureInfo.InvariantCulture, $"{name} (pid {pid})"))),
    ];

    private async Task WaitUntilNoStageRunsAsync()
    {
        // The idle window, then the stop grace a stage may use to finish (it has nothing in hand), with a margin.
        var deadline = DateTime.UtcNow + ScaleToZeroClusterFixture.IdleWindow + TimeSpan.FromSeconds(25);
        while (StageProcesses() is { Count: > 0 } running)
        {
            Assert.True(DateTime.UtcNow < deadline, $"still running after the idle window: {string.Join(", ", running)}{Environment.NewLine}{cluster.Output()}");
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }
    }
}
