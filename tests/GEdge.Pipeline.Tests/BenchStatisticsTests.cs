using GEdge.Cli.Commands;

namespace GEdge.Pipeline.Tests;

public sealed class BenchStatisticsTests
{
    [Fact]
    public void Difference_OfPairsTenApart_IsTen_WithAnIntervalAboveZero()
    {
        // A machine that drifts (each pair slower than the last) and noise of a few ms within a pair.
        double[] noise = [3, -2, 4, -1, 0, 2, -3, 1, -4, 2, 0, -2, 3, 1, -1];
        var before = noise.Select((n, i) => 500 + 5.0 * i + n).ToArray();
        var after = noise.Select((n, i) => 490 + 5.0 * i - n / 2).ToArray();

        var difference = BenchStatistics.Difference(before, after);

        Assert.InRange(difference.Median, 9, 12);
        Assert.InRange(difference.Low, 5, difference.Median);
        Assert.InRange(difference.High, difference.Median, 17);
        Assert.True(difference.Measurable);
    }

    [Fact]
    public void Difference_WithinTheNoise_HasAnIntervalAcrossZero_AndIsNotMeasurable()
    {
        double[] before = [500, 480, 520, 505, 495, 510, 490, 515, 485, 500];
        double[] differences = [-5, 5, 5, -5, 5, -5, 0, 5, -5, 0];
        var after = before.Zip(differences, (b, d) => b - d).ToArray();

        var difference = BenchStatistics.Difference(before, after);

        Assert.True(difference.Low <= 0 && difference.High >= 0, $"{difference}");
        Assert.False(difference.Measurable);
    }

    [Fact]
    public void Difference_IsTheSameEachTime_ForTheSameFigures()
    {
        double[] before = [10, 12, 9, 14, 11];
        double[] after = [8, 11, 9, 10, 10];

        Assert.Equal(BenchStatistics.Difference(before, after), BenchStatistics.Difference(before, after));
    }

    [Fact]
    public void Difference_RefusesPairsOfUnequalCounts()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BenchStatistics.Difference([1, 2], [1]));
    }
}
