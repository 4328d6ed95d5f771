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
    /// Adds the object store that separate processes share: S3/MinIO (<c>Storage:S3:*</c>, checked at start), or a folder
    /// they all see when <c>Storage:Local:Root</c> names one and no S3 endpoint is set (the local cluster; a volume in a
    /// cluster). Never the embedded default's private folder: a function whose store no other function reads would lose
    /// jobs, so with neither setting the start fails naming <c>Storage:S3:Endpoint</c>.
    /// </summary>
    public static IServiceCollection AddSharedObjectStore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var s3Endpoint = configuration[$"{S3StorageOptions.SectionName}:{nameof(S3StorageOptions.Endpoint)}"];
        var localRoot = configuration[$"{LocalStorageOptions.SectionName}:{nameof(LocalStorageOptions.Root)}"];
        return string.IsNullOrWhiteSpace(s3Endpoint) && !string.IsNullOrWhiteSpace(localRoot)
            ? services.AddLocalObjectStore()
            : services.AddS3ObjectStore();
    }

    private sealed class S3StorageOptionsValidator : IValidateOptions<S3StorageOptions>
    {
        public ValidateOptionsResult Validate(string? name, S3StorageOptions options) =>
            options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }
}
