using GEdge.Events.AspNetCore;
using GEdge.JobTable;
using GEdge.Storage.S3;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GEdge.Hosting;

/// <summary>The composition every function process shares, whichever host runs it; the host adds its function's own part after it.</summary>
public static class FunctionServiceCollectionExtensions
{
    /// <summary>
    /// Adds what every function needs, configured from environment variables (<c>Section__Key</c>): the job table on the
    /// Redis server of <c>JobTable__ConnectionString</c>, the shared object store (<see cref="S3StorageServiceCollectionExtensions.AddSharedObjectStore"/>),
    /// the function's subscribers by trigger, who may send it events (<see cref="EventSenderServiceCollectionExtensions.AddEventSenders"/>,
    /// <c>Events:Senders</c>), and the probes. Unlike the embedded host there is no local fallback for
    /// the job table: separate processes share no Garnet, so a missing setting fails the start, naming itself, instead
    /// of losing jobs.
    /// </summary>
    public static IServiceCollection AddGEdgeFunction(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddJobTable(configuration);
        services.AddOptions<JobTableOptions>()
            .Validate(
                options => !string.IsNullOrWhiteSpace(options.ConnectionString),
                $"{JobTableOptions.SectionName}:{nameof(JobTableOptions.ConnectionString)} is not set: a function needs the cluster's Redis server, which it shares with the others.")
            .ValidateOnStart();
        services.AddSharedObjectStore(configuration);
        services.TryAddSingleton<EventSubscribers>();
        services.AddEventSenders();
        // What a function announces beyond its reply (the cut's other segments) goes to the Broker: Events__Sink, or the
        // K_SINK a SinkBinding injects.
        services.AddHttpEventPublisher();
        services.AddFunctionProbes();
        // Traces over OTLP when the standard variables ask; the service is named by OTEL_SERVICE_NAME or Knative's K_SERVICE.
        services.AddGEdgeTelemetry(configuration, "gedge-function");
        return services;
    }
}
