namespace GEdge.Cluster.Tests;

/// <summary>
/// The dashboard's pure logic (statuses to step bar, timings, detections to chart series, class colours), tested on
/// Node's own test runner by tests/browser/dashboard-logic.test.mjs; this runs it with the .NET tests.
/// </summary>
public sealed class DashboardLogicTests
{
    [Fact]
    public async Task DashboardLogic_PassesItsNodeTests()
    {
        BrowserTools.RequireNode();

        var (exitCode, output) = await BrowserTools.RunNodeAsync(
            ["--test", "--test-reporter=spec", "dashboard-logic.test.mjs"], new Dictionary<string, string>(), TimeSpan.FromMinutes(1));

        Assert.True(exitCode == 0, $"node --test dashboard-logic.test.mjs failed ({exitCode}):{Environment.NewLine}{output}");
        Assert.Matches(@"(?m)^ℹ pass ([1-9]\d*)$", output);
        Assert.Matches(@"(?m)^ℹ fail 0$", output);
        Assert.Matches(@"(?m)^ℹ skipped 0$", output);
    }
}
