using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.JobTable.Embedded;

/// <summary>Registers the job table with the embedded Garnet server as its default.</summary>
public static class EmbeddedJobTableServiceCollectionExtensions
{
    /// <summary>
    /// Adds the job table (see <see cref="JobTableServiceCollectionExtensions.AddJobTable"/>). When
    /// JobTable:ConnectionString is not set, the first use of the job table starts an in-process Garnet server on the
    /// "JobTable:Embedded" options' data folder and connects to it; with a connection string, Garnet is never started.
    /// </summary>
    public static IServiceCollection AddJobTableWithEmbeddedServer(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddJobTable(configuration);
        services.AddOptions<EmbeddedGarnetOptions>().Bind(configuration.GetSection(EmbeddedGarnetOptions.SectionName));
        services.TryAddSingleton(sp => EmbeddedGarnetServer.Start(
            sp.GetRequiredService<IOptions<EmbeddedGarnetOptions>>().Value,
            sp.GetService<ILoggerFactory>()));
        services.TryAddSingleton<IJobTableServer>(sp => sp.GetRequiredService<EmbeddedGarnetServer>());
        return services;
    }
}
