using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GEdge.Storage;

/// <summary>Registers object storage.</summary>
public static class StorageServiceCollectionExtensions
{
    /// <summary>Adds the embedded default store: a local folder (<c>Storage:Local:Root</c>, default <c>.gedge/storage</c>).</summary>
    public static IServiceCollection AddLocalObjectStore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<LocalStorageOptions>().BindConfiguration(LocalStorageOptions.SectionName);
        services.TryAddSingleton<IObjectStore, LocalFolderObjectStore>();
        return services;
    }
}
