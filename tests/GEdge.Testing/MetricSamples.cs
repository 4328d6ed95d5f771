using System.Globalization;
using GEdge.Metrics;

namespace GEdge.Testing;

/// <summary>
/// The samples of Prometheus' text format by series (<c>gedge_job_transitions_total{status="Enqueue"}</c>), as a
/// process's <c>/metrics</c> or a <see cref="GEdgeMetrics"/> writes them: comment lines skipped, no timestamps, label
/// values without spaces (every G-Edge label's).
/// </summary>
public sealed class MetricSamples
{
    private readonly Dictionary<string, double> _samples;

    private MetricSamples(Dictionary<string, double> samples) => _samples = samples;

    /// <summary>Reads what <paramref name="metrics"/> would answer a scrape with.</summary>
    public static async Task<MetricSamples> ReadAsync(GEdgeMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        using var text = new MemoryStream();
        await metrics.WriteAsync(text, CancellationToken.None);
        return Parse(System.Text.Encoding.UTF8.GetString(text.ToArray()));
    }

    /// <summary>Reads a scrape's text.</summary>
    public static MetricSamples Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        return new MetricSamples(samples);
    }

    /// <summary>The value of <paramref name="series"/>; fails the test when it is not there.</summary>
    public double this[string series] =>
        _samples.TryGetValue(series, out var value)
            ? value
            : throw new Xunit.Sdk.XunitException($"No series {series}; there are: {string.Join(", ", _samples.Keys.Where(k => k.StartsWith(series.Split('{')[0], StringComparison.Ordinal)))}");

    /// <summary>Every series' name with its labels.</summary>
    public IEnumerable<string> Series => _samples.Keys;
}
