using GEdge.Cli.Cluster;

namespace GEdge.Pipeline.Tests;

/// <summary>The local autoscaler's arithmetic: Knative's desired pods for the concurrency metric, and its stable window.</summary>
public sealed class LocalAutoscalerTests
{
    [Theory]
    [InlineData(0, 1.0, 4, 0)]
    [InlineData(1, 1.0, 4, 1)]
    [InlineData(3, 1.0, 4, 3)]
    [InlineData(9, 1.0, 4, 4)]
    [InlineData(1, 2.0, 20, 1)]
    [InlineData(3, 2.0, 20, 2)]
    [InlineData(5, 2.0, 2, 2)]
    [InlineData(1, 0.5, 4, 2)]
    public void Wanted_IsTheRequestsOverTheTargetRoundedUp_AtMostTheMaximum(int requests, double target, int max, int wanted) =>
        Assert.Equal(wanted, LocalAutoscaler.Wanted(requests, target, max));

    [Fact]
    public void ScaleWindow_KeepsTheMostWantedWithinTheWindow_SoItScalesDownOnlyAfterAWholeWindowOfWantingFewer()
    {
        var window = new ScaleWindow();
        var start = DateTimeOffset.UnixEpoch;
        var idle = TimeSpan.FromSeconds(30);

        Assert.Equal(2, window.Record(start, 2, idle));
        Assert.Equal(2, window.Record(start + TimeSpan.FromSeconds(10), 0, idle));
        Assert.Equal(2, window.Record(start + TimeSpan.FromSeconds(30), 0, idle));
        // The 2 is now more than a window old.
        Assert.Equal(0, window.Record(start + TimeSpan.FromSeconds(31), 0, idle));
        // Wanting more counts at once.
        Assert.Equal(3, window.Record(start + TimeSpan.FromSeconds(32), 3, idle));
    }
}
