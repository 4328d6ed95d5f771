using System.CommandLine;
using GEdge.Cli.Commands;

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
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
