using System.CommandLine;
using GEdge.Cli.Commands;

var root = new RootCommand("G-Edge: find the objects in a video, on one machine or a Knative cluster.");
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(JobsCommand.CreateList());
root.Subcommands.Add(JobsCommand.CreateShow());
root.Subcommands.Add(DetectCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(BenchInferCommand.Create());
return await root.Parse(args).InvokeAsync();
