using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace GEdge.Cluster.Tests;

/// <summary>
/// The dashboard in a real browser against a real cluster: tests/browser/dashboard.mjs drives Debian's chromium
/// through playwright-core at the address `gedge serve` printed. It uploads road.mp4 through the page, watches its
/// status reach Exit there, plays the annotated video, checks the chart, draws the job's timeline (a bar of work for
/// each stage), and keeps screenshots of the page and of the timeline in TestResults/artifacts. A missing chromium or node_modules fails, never skips.
/// </summary>
[Collection(OneClusterAtATime.Name)]
public sealed partial class DashboardBrowserTests(ClusterFixture cluster, ITestOutputHelper log) : IClassFixture<ClusterFixture>
{
    private static readonly byte[] s_pngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public async Task Dashboard_UploadsAVideo_WatchesItReachExit_AndPlaysTheResult()
    {
        BrowserTools.RequireBrowser();
        var line = DashboardLine().Match(cluster.Output());
        Assert.True(line.Success, $"gedge serve printed no '  dashboard    http://127.0.0.1:PORT/#key=KEY' line:{Environment.NewLine}{cluster.Output()}");
        var url = new Uri(line.Groups["url"].Value);
        Assert.Equal(cluster.Gateway.GetLeftPart(UriPartial.Authority), url.GetLeftPart(UriPartial.Authority));
        var screenshot = Path.Combine(BrowserTools.ArtifactsFolder, "dashboard.png");
        var timeline = Path.Combine(BrowserTools.ArtifactsFolder, "dashboard-timeline.png");
        Directory.CreateDirectory(BrowserTools.ArtifactsFolder);
        File.Delete(screenshot);
        File.Delete(timeline);

        var (exitCode, output) = await BrowserTools.RunNodeAsync(
            ["dashboard.mjs"],
            new Dictionary<string, string>
            {
                ["GEDGE_DASHBOARD_URL"] = url.ToString(),
                ["GEDGE_VIDEO"] = Path.Combine(AppContext.BaseDirectory, "assets", "road.mp4"),
                ["GEDGE_SCREENSHOT"] = screenshot,
                ["GEDGE_EXPECT_CLASS"] = "car",
                ["GEDGE_EXPECT_WIDTH"] = "1280",
                ["GEDGE_JOB_TIMEOUT_S"] = "300",
                ["CHROMIUM_PATH"] = BrowserTools.Chromium,
            },
            TimeSpan.FromMinutes(8));

        log.WriteLine(output);
        Assert.True(exitCode == 0, $"the dashboard's browser test failed ({exitCode}):{Environment.NewLine}{output}");
        Assert.Contains("dashboard test: passed: ", output, StringComparison.Ordinal);
        Assert.Contains("Exit", StatusesSeen().Match(output).Groups["statuses"].Value, StringComparison.Ordinal);
        foreach (var shot in new[] { screenshot, timeline })
        {
            var png = await File.ReadAllBytesAsync(shot);
            Assert.True(png.Length > 10_000, $"the screenshot {shot} is only {png.Length} bytes");
            Assert.Equal(s_pngSignature, png[..8]);
        }
    }

    [GeneratedRegex(@"^  dashboard\s+(?<url>http://\S+/#key=\S+)$", RegexOptions.Multiline)]
    private static partial Regex DashboardLine();

    [GeneratedRegex(@"statuses seen on the page: (?<statuses>.+)$", RegexOptions.Multiline)]
    private static partial Regex StatusesSeen();
}
