using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GEdge.Storage.S3;

/// <summary>Registers the S3/MinIO store, or chooses between it and the local folder from configuration.</summary>
public static class S3StorageServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="S3ObjectStore"/> as the process's one <see cref="IObjectStore"/>, with its options bound from
    /// <c>Storage:S3</c> and checked when the host starts.
    /// </summary>
    public static IServiceCollection AddS3ObjectStore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<S3StorageOptions>().BindConfiguration(S3StorageOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<S3StorageOptions>, S3StorageOptionsValidator>());
        // One client (and connection pool) per process, as with any HttpClient-based client.
        services.TryAddSingleton<S3ObjectStore>();
        services.TryAddSingleton<IObjectStore>(sp => sp.GetRequiredService<S3ObjectStore>());
        return services;
    }

    /// <summary>
    /// Adds the store the configuration asks for: S3/MinIO when <c>Storage:S3:Endpoint</c> is set (the cluster), the
    /// local folder of <see cref="StorageServiceCollectionExtensions.AddLocalObjectStore"/> otherwise (the embedded default).
    /// </summary>
    public static IServiceCollection AddObjectStore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var endpoint = configuration.GetSection(S3StorageOptions.SectionName)[nameof(S3StorageOptions.Endpoint)];
        return string.IsNullOrWhiteSpace(endpoint) ? services.AddLocalObjectStore() : services.AddS3ObjectStore();
    }

    private sealed class S3StorageOptionsValidator : IValidateOptions<S3StorageOptions>
    {
        public ValidateOptionsResult Validate(string? name, S3StorageOptions options) =>
            options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }
}
