using System.Globalization;
using YamlDotNet.Serialization;

namespace GEdge.Cli.Cluster;

/// <summary>
/// The Prometheus configuration that scrapes a local cluster: every process's <c>/metrics</c> (the gateway, the broker,
/// each function's processes), each target labelled with its <c>process</c> and <c>function</c>, as a Kubernetes
/// scrape labels a pod with its Service. Written by <c>gedge serve</c> at every start (the ports change), for
/// <c>prometheus --config.file=.gedge/cluster/prometheus.yml</c>.
/// </summary>
internal static class PrometheusScrapeConfig
{
    /// <summary>The file's name in the cluster's folder.</summary>
    public const string FileName = "prometheus.yml";

    /// <summary>How often Prometheus scrapes the processes: often enough to watch one job's segments go by.</summary>
    public const string ScrapeInterval = "5s";

    /// <summary>Writes the configuration for the processes at <paramref name="urls"/> (by name) into <paramref name="root"/>; returns its path.</summary>
    public static string Write(string root, IReadOnlyDictionary<string, Uri> urls, Func<string, string> functionOf)
    {
        var config = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["global"] = new Dictionary<string, string>(StringComparer.Ordinal) { ["scrape_interval"] = ScrapeInterval },
            ["scrape_configs"] = new[]
            {
                new Dictionary<string, object>(StringComparer.Ordinal)
                {
                    ["job_name"] = "gedge",
                    ["metrics_path"] = "/" + GEdge.Hosting.FunctionRoutes.Metrics,
                    ["static_configs"] = urls.OrderBy(u => u.Key, StringComparer.Ordinal).Select(u => new Dictionary<string, object>(StringComparer.Ordinal)
                    {
                        ["targets"] = new[] { string.Create(CultureInfo.InvariantCulture, $"{u.Value.Host}:{u.Value.Port}") },
                        ["labels"] = new Dictionary<string, string>(StringComparer.Ordinal) { ["process"] = u.Key, ["function"] = functionOf(u.Key) },
                    }).ToArray(),
                },
            },
        };
        var path = Path.Combine(root, FileName);
        File.WriteAllText(path, "# Written by gedge serve for the processes of its latest start (their ports change at every start).\n" + new SerializerBuilder().Build().Serialize(config));
        return path;
    }
}
