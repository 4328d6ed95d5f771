using GEdge.Functions.Gateway;
using GEdge.Functions.Hosting;
using GEdge.Gateway;
using GEdge.Hosting;
using GEdge.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace GEdge.Functions.Tests;

/// <summary>
/// The gateway's services composed as its Program composes them (<c>AddGEdgeFunction</c>, <c>AddGateway</c>), on the real
/// job table, with three things swapped for what a test can watch: the broker (a recording publisher), the clock, and
/// storage (a temporary local folder instead of MinIO).
/// </summary>
internal sealed class GatewayHost : IAsyncDisposable
{
    public const string WebhookToken = "minio-webhook-secret";

    private readonly ServiceProvider _services;
    private readonly string _storageRoot = Path.Combine(Path.GetTempPath(), "gedge-functions-tests", Guid.NewGuid().ToString("N"));

    public GatewayHost(GarnetFixture garnet)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["JobTable:ConnectionString"] = garnet.ConnectionString,
                ["JobTable:KeyPrefix"] = "functions-" + Guid.NewGuid().ToString("N"),
                ["Storage:S3:Endpoint"] = "http://127.0.0.1:9",
                ["Gateway:MinioWebhook:AuthToken"] = WebhookToken,
                ["Gateway:ApiKeys:0:User"] = "alice",
                ["Gateway:ApiKeys:0:Sha256"] = ApiKeys.Hash(ApiKey),
            })
            .Build();
        _services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging(logging => logging.AddProvider(Logs))
            // The worker's web host provides these: the environment (the OpenAPI document's services ask for it) and the
            // diagnostic listener (the routing middleware of the API pipeline asks for it).
            .AddSingleton<IHostEnvironment>(new HostingEnvironment { EnvironmentName = Environments.Production, ApplicationName = "GEdge.Functions.Gateway", ContentRootPath = AppContext.BaseDirectory })
            .AddSingleton(new System.Diagnostics.DiagnosticListener("Microsoft.AspNetCore"))
            .AddGEdgeFunction(configuration)
            .AddGateway()
            .AddSingleton<GEdge.Events.IEventPublisher>(Broker)
            .AddSingleton<TimeProvider>(Clock)
            .AddSingleton<IObjectStore>(new LocalFolderObjectStore(_storageRoot))
            .BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    /// <summary>alice's API key.</summary>
    public string ApiKey { get; } = ApiKeys.New();

    /// <summary>The app's services, as the worker hands them to each request.</summary>
    public IServiceProvider Services => _services;

    public RecordingPublisher Broker { get; } = new();

    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));

    public FakeLoggerProvider Logs { get; } = new();

    public JobTable.JobTable Jobs => _services.GetRequiredService<JobTable.JobTable>();

    public IObjectStore Store => _services.GetRequiredService<IObjectStore>();

    /// <summary>The local storage folder under <see cref="Store"/>.</summary>
    public string StorageRoot => _storageRoot;

    /// <summary>The function class, made as the worker makes it for each invocation.</summary>
    public GatewayFunctions Functions => ActivatorUtilities.CreateInstance<GatewayFunctions>(_services);

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        if (Directory.Exists(_storageRoot))
            Directory.Delete(_storageRoot, recursive: true);
    }
}
