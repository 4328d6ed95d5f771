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
        var scale = new Option<string?>("--scale")
        {
            Description = "Processes per stage, as Knative runs pods: e.g. preprocess=2,infer=1,postprocess=3 (each 0 to 16; 1 by default; with --scale-to-zero, the most). The broker spreads a stage's segments over its processes. 0 runs none, as a cluster without a node for it (no GPU): its requests wait in the broker, and peers (Peers__Edges__N__*) may take its segments.",
        };
        scale.Validators.Add(result =>
        {
            if (ParseScale(result.GetValue(scale)) is { Error: { } error })
            {
                result.AddError(error);
            }
        });
        var cores = new Option<int>("--cores")
        {
            Description = "The cores this machine gives the cluster: at most this many stage requests run at once, the rest wait in the broker, as a Kubernetes node runs only the pods it has cores for. 0: no limit.",
            DefaultValueFactory = _ => LocalClusterOptions.MachineCores,
        };
        cores.Validators.Add(result =>
        {
            if (result.GetValue(cores) < 0)
            {
                result.AddError("--cores must be 0 (no limit) or more.");
            }
        });
        var scaleToZero = new Option<bool>("--scale-to-zero")
        {
            Description = "Run no stage process until a request needs it, as Knative scales a Service from zero: the broker holds the request, a process starts; " +
                "more start while requests exceed a process's target (knative/services.yaml), up to --scale's count or the Service's max-scale within --cores; each stops after --idle-window without requests.",
        };
        var idleWindow = new Option<double>("--idle-window")
        {
            Description = "With --scale-to-zero: the seconds a stage goes without wanting a process before it stops (Knative's stable window).",
            DefaultValueFactory = _ => new LocalClusterOptions(0, false, "").IdleWindow.TotalSeconds,
        };
        idleWindow.Validators.Add(result =>
        {
            if (result.GetValue(idleWindow) is <= 0 or > 86_400)
            {
                result.AddError("--idle-window takes seconds, more than 0 and at most a day.");
            }
        });
        var command = new Command(
            "serve",
            "Run G-Edge as a local cluster: the job table server, a broker that routes by knative/triggers.yaml, and each function in its own process.")
        {
            port, duplicate, scale, cores, scaleToZero, idleWindow,
        };
        command.SetAction((parse, cancellationToken) => LocalCluster.RunAsync(
            new LocalClusterOptions(parse.GetValue(port), parse.GetValue(duplicate), LocalClusterOptions.DefaultRoot)
            {
                SweepInterval = SweepInterval(),
                Scale = ParseScale(parse.GetValue(scale)).Scale,
                Cores = parse.GetValue(cores),
                ScaleToZero = parse.GetValue(scaleToZero),
                IdleWindow = TimeSpan.FromSeconds(parse.GetValue(idleWindow)),
            },
            Console.Out,
            Console.Error,
            cancellationToken));
        return command;
    }

    /// <summary>Reads <c>--scale</c>: <c>stage=count</c> pairs, comma-separated, each stage once.</summary>
    internal static (IReadOnlyDictionary<string, int> Scale, string? Error) ParseScale(string? text)
    {
        var scale = new Dictionary<string, int>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(text))
        {
            return (scale, null);
        }

        var stages = GEdge.Contracts.PipelineTopology.Stages.Select(stage => stage.Name).ToList();
        foreach (var pair in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? pair[..equals].Trim() : pair;
            if (!stages.Contains(name))
            {
                return (scale, $"--scale: '{name}' is not a stage; the stages are {string.Join(", ", stages)}.");
            }

            if (equals < 0 || !int.TryParse(pair.AsSpan(equals + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var count) || count is < 0 or > 16)
            {
                return (scale, $"--scale: '{pair}' needs a count of processes from 0 to 16, as {name}=2.");
            }

            if (!scale.TryAdd(name, count))
            {
                return (scale, $"--scale names {name} twice.");
            }
        }

        return (scale, null);
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
