using GEdge.Events.Broker;
using GEdge.Hosting;
using GEdge.Metrics;
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
        app.MapFunctionProbes();
        app.MapFunctionMetrics();
        function.MapEndpoints(app);
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
        builder.Services.AddGEdgeMetrics();
        // Its requests in a job's trace too (each event's ingress, as a child of the request that published it), as a
        // Knative Broker's are when Eventing's tracing is on; the events' own trace context passes through it untouched.
        builder.Services.AddGEdgeTelemetry(builder.Configuration, "gedge-broker");
        var app = builder.Build();
        // Its own series: each Service's requests and ready pods, as the autoscaler reads them.
        var broker = app.Services.GetRequiredService<HttpEventBroker>();
        app.Services.GetRequiredService<GEdgeMetrics>().ObserveBroker(
            () => broker.Load().Select(service => (service.Service, service.Requests, service.Pods.Count(pod => pod.Ready))));
        app.MapFunctionProbes();
        app.MapFunctionMetrics();
        app.MapEventBroker();
        return app;
    }

    /// <summary>
    /// Adds one function's services: what every function has (<see cref="FunctionServiceCollectionExtensions.AddGEdgeFunction"/>,
    /// as the Azure Functions apps add it) and the function's own part, the same call its app's Program.cs makes.
    /// </summary>
    public static IServiceCollection AddClusterFunction(this IServiceCollection services, ClusterFunction function, IConfiguration configuration) =>
        function.AddServices(services.AddGEdgeFunction(configuration));

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
