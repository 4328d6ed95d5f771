using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using CloudNative.CloudEvents;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.Gateway;
using GEdge.Infer;
using GEdge.JobTable;
using GEdge.JobTable.Embedded;
using GEdge.Jobs;
using GEdge.Postprocess;
using GEdge.Preprocess;
using GEdge.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace GEdge.Gateway.Tests;

/// <summary>
/// The gateway on a real Kestrel server on a free loopback port, mapped as every host maps it (<c>AddGateway</c>,
/// <c>MapGateway</c>), over the embedded Garnet job table and a storage folder in a temp folder that is deleted after.
/// Each user in <see cref="Users"/> has a fresh API key (alice has two, as during a rotation). Events go to a recording
/// broker, so jobs wait in Enqueue; <see cref="PipelineGatewayServer"/> runs them through the stages instead.
/// </summary>
public class GatewayServer : IAsyncLifetime
{
    /// <summary>The largest upload the server takes: above the sample clip (800 KB), small enough to exceed cheaply.</summary>
    public const long MaxUploadBytes = 2 * 1024 * 1024;

    public static readonly IReadOnlyList<string> Users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"];

    private readonly Dictionary<string, string> _keys = Users.ToDictionary(user => user, _ => ApiKeys.New(), StringComparer.Ordinal);
    private WebApplication? _app;

    public string Root { get; } = Directory.CreateTempSubdirectory("gedge-gateway-tests-").FullName;

    /// <summary>The storage folder: one folder per bucket.</summary>
    public string Storage => Path.Combine(Root, "storage");

    public Uri Address { get; private set; } = null!;

    /// <summary>alice's second key: both of hers work.</summary>
    public string AliceSecondKey { get; } = ApiKeys.New();

    public ConcurrentQueue<CloudEvent> Announced { get; } = new();

    /// <summary>Everything the server logged.</summary>
    internal FakeLoggerProvider Logs { get; } = new();

    public JobTable.JobTable Jobs => _app!.Services.GetRequiredService<JobTable.JobTable>();

    public IObjectStore Store => _app!.Services.GetRequiredService<IObjectStore>();

    /// <summary>Where the host publishes events (the in-process router when the stages run here).</summary>
    public IEventPublisher Publisher => _app!.Services.GetRequiredService<IEventPublisher>();

    /// <summary>What the gateway counts (its /metrics).</summary>
    public GEdge.Metrics.GEdgeMetrics Metrics => _app!.Services.GetRequiredService<GEdge.Metrics.GEdgeMetrics>();

    public BucketOptions Buckets => _app!.Services.GetRequiredService<IOptions<BucketOptions>>().Value;

    protected virtual bool RunsStages => false;

    public string KeyOf(string user) => _keys[user];

    /// <summary>A client that sends <paramref name="user"/>'s key as a bearer token.</summary>
    public HttpClient ClientOf(string user) => ClientWith(new AuthenticationHeaderValue("Bearer", KeyOf(user)));

    /// <summary>A client with the given <c>Authorization</c> header, or none.</summary>
    public HttpClient ClientWith(AuthenticationHeaderValue? authorization)
    {
        var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = authorization;
        return client;
    }

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = Root });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(Logs);
        var settings = new Dictionary<string, string?>
        {
            ["JobTable:Embedded:DataPath"] = Path.Combine(Root, "garnet"),
            ["Storage:Local:Root"] = Storage,
            ["Gateway:MaxUploadBytes"] = MaxUploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var entries = _keys.Select(pair => (User: pair.Key, Key: pair.Value)).Append((User: "alice", Key: AliceSecondKey)).ToList();
        for (var i = 0; i < entries.Count; i++)
        {
            settings[$"Gateway:ApiKeys:{i}:User"] = entries[i].User;
            settings[$"Gateway:ApiKeys:{i}:Sha256"] = ApiKeys.Hash(entries[i].Key);
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddJobTableWithEmbeddedServer(builder.Configuration).AddLocalObjectStore().AddGateway();
        if (RunsStages)
        {
            // Stages renew their lease often, so one finds out quickly that its job was cancelled.
            builder.Configuration["Stages:LeaseRenewal"] = "00:00:00.2";
            builder.Services
                .AddPreprocessStage()
                .AddInferStage()
                .AddPostprocessStage()
                .AddSingleton(new DeliveryOptions { BackoffDelay = TimeSpan.FromMilliseconds(20) })
                .AddSingleton(provider => new InProcessEventRouter(
                    provider.GetServices<Subscription>(), provider.GetRequiredService<DeliveryOptions>(), provider.GetRequiredService<ILogger<InProcessEventRouter>>()))
                .AddSingleton<IEventPublisher>(provider => provider.GetRequiredService<InProcessEventRouter>());
        }
        else
        {
            builder.Services.AddSingleton<IEventPublisher>(new RecordingPublisher(Announced));
        }

        _app = builder.Build();
        _app.MapGateway();
        await _app.StartAsync();
        Address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Directory.Delete(Root, recursive: true);
    }

    /// <summary>Uploads <paramref name="content"/> as <paramref name="user"/>'s video <paramref name="name"/>, as the raw body.</summary>
    public async Task<HttpResponseMessage> UploadAsync(string user, string name, byte[] content)
    {
        using var client = ClientOf(user);
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await client.PostAsync($"api/jobs?name={Uri.EscapeDataString(name)}", body);
    }

    /// <summary>Uploads a video that passes the content check (the start of the sample clip) and returns its job.</summary>
    public async Task<JobView> SubmitAsync(string user, string name = "clip.mp4")
    {
        using var response = await UploadAsync(user, name, await Videos.HeadOfSampleAsync());
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView))!;
    }

    /// <summary>Every file under the storage folder, relative to it, with '/' between folders.</summary>
    public IReadOnlyList<string> StoredFiles() =>
        Directory.Exists(Storage)
            ? [.. Directory.EnumerateFiles(Storage, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Storage, f).Replace('\\', '/')).Order(StringComparer.Ordinal)]
            : [];

    private sealed class RecordingPublisher(ConcurrentQueue<CloudEvent> published) : IEventPublisher
    {
        public Task PublishAsync(CloudEvent cloudEvent, CancellationToken cancellationToken = default)
        {
            published.Enqueue(cloudEvent);
            return Task.CompletedTask;
        }
    }
}

/// <summary>The gateway with the three stages behind it: a submitted job runs to Exit with the real model and ffmpeg.</summary>
public sealed class PipelineGatewayServer : GatewayServer
{
    protected override bool RunsStages => true;

    /// <summary>Polls the API as a client would until the job is in Exit; at most two minutes.</summary>
    public static async Task<JobView> WaitForExitAsync(HttpClient client, long id)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (true)
        {
            var job = (await client.GetFromJsonAsync($"api/jobs/{id}", GatewayJsonContext.Default.JobView, deadline.Token))!;
            if (job.Job[JobFields.Status] == nameof(JobStatus.Exit))
            {
                return job;
            }

            await Task.Delay(100, deadline.Token);
        }
    }
}

/// <summary>Video bytes for the tests.</summary>
public static class Videos
{
    public static string SamplePath => Path.Combine(AppContext.BaseDirectory, "assets", "road.mp4");

    /// <summary>The sample clip, whole.</summary>
    public static Task<byte[]> SampleAsync() => File.ReadAllBytesAsync(SamplePath);

    /// <summary>The first 32 KB of the sample clip: an MP4 by its first bytes, but cut off, so no stage can decode it.</summary>
    public static async Task<byte[]> HeadOfSampleAsync() => (await SampleAsync())[..(32 * 1024)];
}
