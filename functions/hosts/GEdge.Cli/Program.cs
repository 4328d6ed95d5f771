using System.CommandLine;
using GEdge.Cli.Commands;
using GEdge.Cli;
using GEdge.JobTable.Embedded;

// The end of the runtime's part of start-up (gedge run --timings).
StartupTimeline.MainEntered();
var root = new RootCommand("G-Edge: find the objects in a video, on one machine or a Knative cluster.");
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(JobsCommand.CreateList());
root.Subcommands.Add(JobsCommand.CreateShow());
root.Subcommands.Add(DetectCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(BenchInferCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(SubmitCommand.Create());
root.Subcommands.Add(ApiKeyCommand.Create());
root.Subcommands.Add(FunctionCommand.CreateFunction());
root.Subcommands.Add(FunctionCommand.CreateBroker());
// Ctrl+C and SIGTERM cancel the command; `serve` then stops its stages (17 s at most), the gateway and the broker (5 s)
// and the job table server (which flushes its append-only file), so it gets the 30 s a Kubernetes pod gets by default
// (terminationGracePeriodSeconds), not the default two seconds, before the process is ended regardless.
var invocation = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30), EnableDefaultExceptionHandler = false };
try
{
    return await root.Parse(args).InvokeAsync(invocation);
}
catch (Exception e) when (InUse(e) is { } inUse)
{
    // A user's situation, not a fault: one line, not a stack trace.
    await invocation.Error.WriteLineAsync($"gedge: {inUse.Message}");
    return 1;
}
catch (OperationCanceledException)
{
    // Ctrl+C during a command that does not handle it: nothing to say, as with System.CommandLine's default handler.
    return 1;
}
catch (Exception e)
{
    // What System.CommandLine's default handler would print.
    await invocation.Error.WriteLineAsync($"Unhandled exception: {e}");
    return 1;
}

static JobTableInUseException? InUse(Exception? e) =>
    e is null ? null : e as JobTableInUseException ?? InUse(e.InnerException) ?? (e as AggregateException)?.InnerExceptions.Select(InUse).FirstOrDefault(x => x is not null);
