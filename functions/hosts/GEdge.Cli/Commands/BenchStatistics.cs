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
}
