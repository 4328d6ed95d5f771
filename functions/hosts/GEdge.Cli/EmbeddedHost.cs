using GEdge.Events;
using GEdge.Hosting;
using GEdge.Jobs;
using Microsoft.Extensions.Configuration;
using GEdge.Infer;
using GEdge.JobTable.Embedded;
using GEdge.Postprocess;
using GEdge.Preprocess;
using GEdge.Stages;
using GEdge.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace GEdge.Cli;

/// <summary>
/// The embedded default: every function in this process, the job table in an in-process Garnet server (or the Redis
/// server that <c>JobTable__ConnectionString</c> names), storage in a local folder, and events routed in-process by
/// the same trigger filters the Knative Triggers declare. Configuration comes from environment variables
/// (<c>Section__Key</c>); nothing needs to be set.
/// </summary>
public static class EmbeddedHost
{
    /// <summary>A host with only the job table, for commands that read it.</summary>
    public static IHost CreateJobTableOnly(bool verbose, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = CreateBuilder(verbose, settings);
        return builder.Build();
    }

    /// <summary>A host with the whole pipeline and its router.</summary>
    public static IHost CreatePipeline(
        bool verbose,
        IStageProgressSink progress,
        DeliveryOptions? delivery = null,
        IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = CreateBuilder(verbose, settings);
        builder.Services
            .AddLocalObjectStore()
            .AddSingleton(progress)
            .AddIntake()
            .AddDeliveryFailureRecorder()
            // The sweeper on a timer, where a cluster has its PingSource: a job whose stage stopped is taken back.
            .AddStuckJobSweepTimer()
            .AddPreprocessStage()
            .AddInferStage()
            .AddPostprocessStage()
            .AddSingleton(delivery ?? new DeliveryOptions())
            .AddSingleton(provider => new InProcessEventRouter(
                provider.GetServices<Subscription>(),
                provider.GetRequiredService<DeliveryOptions>(),
                provider.GetRequiredService<ILogger<InProcessEventRouter>>()))
            .AddSingleton<IEventPublisher>(provider => provider.GetRequiredService<InProcessEventRouter>());
        return builder.Build();
    }

    private static HostApplicationBuilder CreateBuilder(bool verbose, IReadOnlyDictionary<string, string?>? settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = Environment.CurrentDirectory });
        builder.Configuration.AddEnvironmentVariables();
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
        });
        // Logs go to stderr, so what a command prints on stdout (--json) stays machine-readable.
        builder.Services.Configure<ConsoleLoggerOptions>(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
        // The command line shows progress itself; the logs are for when something goes wrong, or --verbose.
        builder.Logging.SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Services.AddJobTableWithEmbeddedServer(builder.Configuration);
        // The same traces as a cluster's processes, when OTEL_EXPORTER_OTLP_ENDPOINT asks for them.
        builder.Services.AddGEdgeTelemetry(builder.Configuration, "gedge");
        return builder;
    }
}
