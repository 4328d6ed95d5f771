using GEdge.Storage.S3;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace GEdge.Storage.Tests;

/// <summary>How a host chooses its store from configuration, and what it is told when the S3 settings are incomplete.</summary>
public sealed class StorageRegistrationTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("gedge-store-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void AddSharedObjectStore_WithoutAnS3Endpoint_UsesTheLocalFolder()
    {
        using var services = Build(new() { ["Storage:Local:Root"] = _root });

        Assert.IsType<LocalFolderObjectStore>(services.GetRequiredService<IObjectStore>());
    }

    [Fact]
    public void AddSharedObjectStore_WithAnS3Endpoint_UsesS3_AsOneSharedStore()
    {
        using var services = Build(new()
        {
            ["Storage:S3:Endpoint"] = "minio.gedge.svc:9000",
            ["Storage:S3:AccessKey"] = "gedge",
            ["Storage:S3:SecretKey"] = "secret",
        });

        var store = Assert.IsType<S3ObjectStore>(services.GetRequiredService<IObjectStore>());
        Assert.Same(store, services.GetRequiredService<IObjectStore>());
        Assert.Same(store, services.GetRequiredService<S3ObjectStore>());
    }

    [Fact]
    public void AddSharedObjectStore_WithNeitherAnS3EndpointNorALocalRoot_FailsNamingTheEndpoint_RatherThanUseAPrivateFolder()
    {
        using var services = Build([]);

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<S3StorageOptions>>().Value);
        Assert.Contains("Storage:S3:Endpoint is not set", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddSharedObjectStore_WhenTheS3SecretIsMissing_FailsNamingTheSetting()
    {
        using var services = Build(new() { ["Storage:S3:Endpoint"] = "minio.gedge.svc:9000", ["Storage:S3:AccessKey"] = "gedge" });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<S3StorageOptions>>().Value);
        Assert.Contains("Storage:S3:SecretKey", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("minio:9000", false, "minio:9000", false)]
    [InlineData("minio:9000", true, "minio:9000", true)]
    [InlineData("http://minio:9000", true, "minio:9000", false)]
    [InlineData("https://s3.example.com/", false, "s3.example.com", true)]
    public void Endpoint_ResolvesToHostAndPort_AndTheSchemeDecidesTls(string endpoint, bool useSsl, string hostAndPort, bool secure)
    {
        var options = new S3StorageOptions { Endpoint = endpoint, UseSsl = useSsl, AccessKey = "a", SecretKey = "s" };

        Assert.Null(options.Problem());
        Assert.Equal((hostAndPort, secure), options.ResolveEndpoint());
    }

    [Fact]
    public void Endpoint_WithAPath_IsRefused() =>
        Assert.Contains("has a path", new S3StorageOptions { Endpoint = "http://minio:9000/bucket", AccessKey = "a", SecretKey = "s" }.Problem(), StringComparison.Ordinal);

    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddSharedObjectStore(configuration);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }
}
