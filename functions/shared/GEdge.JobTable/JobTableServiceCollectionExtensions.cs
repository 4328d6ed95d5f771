using GEdge.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GEdge.JobTable;

/// <summary>Registers the job table.</summary>
public static class JobTableServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="JobTable"/>, its options (bound from the "JobTable" section) and the process's one shared
    /// <see cref="IConnectionMultiplexer"/>: to JobTable:ConnectionString when set, otherwise to the
    /// <see cref="IJobTableServer"/> this process hosts.
    /// </summary>
    public static IServiceCollection AddJobTable(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<JobTableOptions>().Bind(configuration.GetSection(JobTableOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JobTableOptions>, JobTableOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddGEdgeMetrics();
        services.TryAddSingleton<IConnectionMultiplexer>(Connect);
        services.TryAddSingleton<JobTable>();
        return services;
    }

    private static ConnectionMultiplexer Connect(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<JobTableOptions>>().Value;
        var connectionString = !string.IsNullOrWhiteSpace(options.ConnectionString)
            ? options.ConnectionString
            : services.GetService<IJobTableServer>()?.ConnectionString
              ?? throw new InvalidOperationException(
                  $"{JobTableOptions.SectionName}:{nameof(JobTableOptions.ConnectionString)} is not set and this process hosts no job-table " +
                  "server. Set it to a Redis server, or register the embedded Garnet server (AddJobTableWithEmbeddedServer in GEdge.JobTable.Embedded).");

        var configuration = ConfigurationOptions.Parse(connectionString);
        configuration.LoggerFactory ??= services.GetService<ILoggerFactory>();
        using var connecting = JobTable.Activities.StartActivity("job table connection");
        return ConnectionMultiplexer.Connect(configuration);
    }

    private sealed class JobTableOptionsValidator : IValidateOptions<JobTableOptions>
    {
        public ValidateOptionsResult Validate(string? name, JobTableOptions options) =>
            options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }
}
