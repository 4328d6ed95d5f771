namespace GEdge.Cli.Commands;

/// <summary>What the benchmarks compute of their repeated measurements.</summary>
internal static class BenchStatistics
{
    /// <summary>The middle of <paramref name="values"/> once sorted (the upper of the two middle ones for an even count); 0 for none.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted[sorted.Count / 2];
    }

    /// <summary>
    /// How much <paramref name="before"/> exceeds <paramref name="after"/>, measured in pairs (the i-th of each taken one
    /// after the other, so a machine that slows down for a while slows both): the median of the pairs' differences, and
    /// its 95 % interval by the percentile bootstrap (the pairs resampled with replacement, a fixed seed so a report can
    /// be read again). An interval that lies wholly above zero says the difference is more than the noise. Written here:
    /// the bootstrap is a dozen lines, and the statistics packages on hand (MathNet.Numerics) have medians and quantiles
    /// but no bootstrap.
    /// </summary>
    public static PairedDifference Difference(IReadOnlyList<double> before, IReadOnlyList<double> after, int resamples = 4000)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        ArgumentOutOfRangeException.ThrowIfNotEqual(after.Count, before.Count);
        ArgumentOutOfRangeException.ThrowIfZero(before.Count);
        var differences = before.Zip(after, (b, a) => b - a).ToArray();
        var random = new Random(20261207);
        var medians = new double[resamples];
        var sample = new double[differences.Length];
        for (var r = 0; r < resamples; r++)
        {
            for (var i = 0; i < sample.Length; i++)
            {
                sample[i] = differences[random.Next(differences.Length)];
            }

            medians[r] = Median(sample);
        }

        Array.Sort(medians);
        return new PairedDifference(Median(differences), medians[(int)(0.025 * (resamples - 1))], medians[(int)Math.Ceiling(0.975 * (resamples - 1))]);
    }
}

/// <summary>A paired difference: its median and the 95 % interval around it.</summary>
internal readonly record struct PairedDifference(double Median, double Low, double High)
{
    /// <summary>Whether the whole interval is above zero: a gain larger than the noise.</summary>
    public bool Measurable => Low > 0;
}
