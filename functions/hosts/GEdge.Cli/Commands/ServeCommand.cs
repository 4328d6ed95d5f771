using System.CommandLine;
using GEdge.Cli.Cluster;
using GEdge.Jobs;
using Microsoft.Extensions.Configuration;

namespace GEdge.Cli.Commands;

/// <summary><c>gedge serve</c>: the local cluster, every function its own process over HTTP CloudEvents.</summary>
internal static class ServeCommand
{
    /// <summary>The gateway's port when none is given; the broker and the stages take the four after it.</summary>
    public const int DefaultPort = 8080;

    public static Command Create()
    {
        var port = new Option<int>("--port")
        {
            Description = "The gateway's port; the broker, preprocess, infer and postprocess take the next four. 0 picks free ports.",
            DefaultValueFactory = _ => DefaultPort,
        };
        port.Validators.Add(result =>
        {
            if (result.GetValue(port) is < 0 or > 65531)
            {
                result.AddError("--port must be 0 or a port of at most 65531 (five ports are used from it).");
            }
        });
        var duplicate = new Option<bool>("--duplicate-deliveries") { Description = "The broker delivers every event twice, as an at-least-once broker may." };
        var command = new Command(
            "serve",
            "Run G-Edge as a local cluster: the job table server, a broker that routes by knative/triggers.yaml, and each function in its own process.")
        {
            port, duplicate,
        };
        command.SetAction((parse, cancellationToken) => LocalCluster.RunAsync(
            new LocalClusterOptions(parse.GetValue(port), parse.GetValue(duplicate), LocalClusterOptions.DefaultRoot)
            {
                SweepInterval = SweepInterval(),
            },
            Console.Out,
            Console.Error,
            cancellationToken));
        return command;
    }

    // Sweeper__Interval, as the embedded host reads it; serve is configured by its environment like the processes it starts.
    private static TimeSpan SweepInterval()
    {
        var configured = new ConfigurationBuilder().AddEnvironmentVariables().Build()
            .GetSection(SweeperOptions.SectionName).Get<SweeperOptions>() ?? new SweeperOptions();
        return configured.Interval > TimeSpan.Zero
            ? configured.Interval
            : throw new ArgumentOutOfRangeException(nameof(SweeperOptions.Interval), configured.Interval, $"{SweeperOptions.SectionName}__{nameof(SweeperOptions.Interval)} must be positive.");
    }
}
