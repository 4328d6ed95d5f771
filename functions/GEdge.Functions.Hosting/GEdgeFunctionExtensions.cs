using GEdge.JobTable;
using GEdge.Storage.S3;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace GEdge.Functions.Hosting;

/// <summary>The setup every G-Edge function app shares; an app adds its own stage after it.</summary>
public static class GEdgeFunctionExtensions
{
    /// <summary>
    /// Answers every function's failures with <see cref="EventFailureMiddleware"/>. Call it after
    /// <c>ConfigureFunctionsWebApplication</c>: middleware runs in the order it is added, and this one must run within the
    /// ASP.NET Core integration's, which hands it the request's HttpContext.
    /// </summary>
    public static IFunctionsWorkerApplicationBuilder UseEventFailures(this IFunctionsWorkerApplicationBuilder worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return worker.UseMiddleware<EventFailureMiddleware>();
    }

    /// <summary>
    /// Adds what every function app needs, configured from environment variables (<c>Section__Key</c>): the job table on the
    /// Redis server of <c>JobTable__ConnectionString</c>, the S3/MinIO store of <c>Storage__S3__*</c>, and the app's
    /// subscribers by trigger. Unlike the embedded host there is no local fallback: separate pods share no Garnet and no
    /// folder, so a missing setting fails the start, naming itself, instead of losing jobs.
    /// </summary>
    public static IServiceCollection AddGEdgeFunction(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddJobTable(configuration);
        services.AddOptions<JobTableOptions>()
            .Validate(
                options => !string.IsNullOrWhiteSpace(options.ConnectionString),
                $"{JobTableOptions.SectionName}:{nameof(JobTableOptions.ConnectionString)} is not set: a function app needs the cluster's Redis server.")
            .ValidateOnStart();
        services.AddS3ObjectStore();
        services.TryAddSingleton<EventSubscribers>();
        return services;
    }
}
