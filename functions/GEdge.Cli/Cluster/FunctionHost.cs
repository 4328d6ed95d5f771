using GEdge.Events;
using GEdge.Events.AspNetCore;
using GEdge.Events.Broker;
using GEdge.Gateway;
using GEdge.Infer;
using GEdge.JobTable;
using GEdge.Postprocess;
using GEdge.Preprocess;
using GEdge.Storage.S3;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GEdge.Cli.Cluster;

/// <summary>
/// One function, or the broker, as a plain ASP.NET Core process: what a Knative Service's container runs, over the
/// same stage code as the embedded host. Configured like a container, by environment variables:
/// <c>JobTable__ConnectionString</c>, <c>Storage__Local__Root</c> or <c>Storage__S3__*</c>, <c>Events__Sink</c>,
/// <c>Broker__Services__NAME</c>.
/// </summary>
internal static class FunctionHost
{
    /// <summary>A host for <paramref name="function"/> listening on <paramref name="urls"/>.</summary>
    public static WebApplication CreateFunction(ClusterFunction function, IReadOnlyList<string> urls)
    {
        var builder = CreateBuilder(urls);
        builder.Services.AddClusterFunction(function, builder.Configuration);
        var app = builder.Build();
        app.MapProbes();
        app.MapClusterFunction(function);
        return app;
    }

    /// <summary>A host for the local broker listening on <paramref name="urls"/>.</summary>
    public static WebApplication CreateBroker(IReadOnlyList<string> urls, bool duplicateDeliveries)
    {
        var builder = CreateBuilder(urls);
        if (duplicateDeliveries)
        {
            builder.Configuration[$"{BrokerOptions.SectionName}:{nameof(BrokerOptions.DuplicateDeliveries)}"] = "true";
        }

        builder.Services.AddEventBroker();
        builder.Services.AddHealthChecks();
        var app = builder.Build();
        app.MapProbes();
        app.MapEventBroker();
        return app;
    }

    /// <summary>
    /// Adds one function's services: the shared job table (a function never hosts one), the object store the
    /// configuration names, readiness checks, and the function itself.
    /// </summary>
    public static IServiceCollection AddClusterFunction(this IServiceCollection services, ClusterFunction function, IConfiguration configuration)
    {
        services.AddJobTable(configuration);
        services.AddOptions<JobTableOptions>().Validate(
            options => !string.IsNullOrWhiteSpace(options.ConnectionString),
            $"{JobTableOptions.SectionName}:{nameof(JobTableOptions.ConnectionString)} must name the job table's Redis server: a function shares it with the others.");
        // S3/MinIO when Storage:S3:Endpoint is set, the local folder (Storage:Local:Root) otherwise.
        services.AddObjectStore(configuration);
        var readiness = services.AddJobTableReadiness();
        switch (function)
        {
            case ClusterFunction.Gateway:
                services.AddGateway();
                break;
            case ClusterFunction.Preprocess:
                services.AddPreprocessStage();
                break;
            case ClusterFunction.Infer:
                services.AddInferStage();
                readiness.AddCheck<ModelLoadedCheck>("model", tags: [Readiness.ReadyTag]);
                break;
            case ClusterFunction.Postprocess:
                services.AddPostprocessStage();
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(function), function, "Not a G-Edge function.");
        }

        return services;
    }

    /// <summary>
    /// Maps one function's endpoints: the gateway's (<see cref="GatewayServiceCollectionExtensions.MapGateway"/>), or a
    /// stage's <c>POST /</c>, which hands the event to its <see cref="Stages.JobStage"/> and replies with the next one.
    /// </summary>
    public static void MapClusterFunction(this WebApplication app, ClusterFunction function)
    {
        if (function == ClusterFunction.Gateway)
        {
            app.MapGateway();
            return;
        }

        // Resolving the stage now loads what it needs (the model manifest, Infer's session): a process that cannot
        // load them fails at start, not at its first event.
        var stage = app.Services.GetServices<Subscription>().Single();
        app.MapCloudEvents("/", stage.Handler);
    }

    private static WebApplicationBuilder CreateBuilder(IReadOnlyList<string> urls)
    {
        // Args stay empty: System.CommandLine has parsed the command line; configuration comes from the environment.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = Environment.CurrentDirectory });
        builder.WebHost.UseUrls([.. urls]);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        // One line per request from the HTTP client factory is noise next to the broker's own delivery lines.
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        // The client's connection diary (a dozen lines per start) says nothing about jobs; its warnings still show.
        builder.Logging.AddFilter("StackExchange.Redis", LogLevel.Warning);
        return builder;
    }
}
