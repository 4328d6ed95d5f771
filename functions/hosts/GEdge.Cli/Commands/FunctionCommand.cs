using System.CommandLine;
using GEdge.Cli.Cluster;

namespace GEdge.Cli.Commands;

/// <summary>
/// <c>gedge function NAME --urls URL</c> and <c>gedge broker --urls URL</c>: one function, or the local broker, as its
/// own HTTP process. <c>gedge serve</c> starts them; they can also be started by hand, configured by environment.
/// </summary>
internal static class FunctionCommand
{
    public static Command CreateFunction()
    {
        var name = new Argument<string>("name") { Description = $"The function: {string.Join(", ", ClusterFunction.All)}." };
        name.AcceptOnlyFromAmong([.. ClusterFunction.All.Select(f => f.Name)]);
        var urls = UrlsOption();
        var parent = ParentOption();
        var timings = new Option<FileInfo?>("--timings")
        {
            Description = "When the process ends, print where its start-up time went (the runtime's start, the host's build and start, the job table " +
                "connection, the model session, the readiness checks: each part's start and length in ms since the process started) and write them to this file as JSON.",
        };
        var command = new Command(
            "function",
            "Run one function as an HTTP CloudEvents service, as a Knative Service would (configured by JobTable__ConnectionString, " +
            "Storage__Local__Root or Storage__S3__*, Events__Sink).")
        {
            name, urls, parent, timings,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var function = ClusterFunction.Named(parse.GetRequiredValue(name))!;
            using var timeline = parse.GetValue(timings) is null ? null : new StartupTimeline();
            var exitCode = await ServiceRunner.RunAsync(
                $"{function.Name} function",
                () => FunctionHost.CreateFunction(function, Split(parse.GetRequiredValue(urls))),
                parse.GetValue(parent),
                cancellationToken).ConfigureAwait(false);
            if (timeline is not null)
            {
                await timeline.ReportAsync(parse.GetValue(timings)!.FullName, CancellationToken.None).ConfigureAwait(false);
            }

            return exitCode;
        });
        return command;
    }

    public static Command CreateBroker()
    {
        var urls = UrlsOption();
        var duplicate = new Option<bool>("--duplicate-deliveries") { Description = "Deliver every event twice, as an at-least-once broker may." };
        var parent = ParentOption();
        var command = new Command(
            "broker",
            "Run the local broker: routes events by knative/triggers.yaml to the Services named by Broker__Services__NAME=URL.")
        {
            urls, duplicate, parent,
        };
        command.SetAction((parse, cancellationToken) => ServiceRunner.RunAsync(
            "broker",
            () => FunctionHost.CreateBroker(Split(parse.GetRequiredValue(urls)), parse.GetValue(duplicate)),
            parse.GetValue(parent),
            cancellationToken));
        return command;
    }

    private static Option<string> UrlsOption() => new("--urls")
    {
        Description = "Where to listen, e.g. http://127.0.0.1:8082 (several separated by ';').",
        Required = true,
    };

    // Internal to `gedge serve`: a child stops when the serve process that started it is gone.
    private static Option<int?> ParentOption() => new("--parent-pid") { Hidden = true };

    private static string[] Split(string urls) => urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
