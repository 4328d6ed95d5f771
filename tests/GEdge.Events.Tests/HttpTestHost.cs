using System.Collections.Concurrent;
using CloudNative.CloudEvents;
using GEdge.Events.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace GEdge.Events.Tests;

/// <summary>A real Kestrel server on a free loopback port, with a client pointed at it and the logs it wrote.</summary>
internal sealed class HttpTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HttpTestHost(WebApplication app, FakeLoggerProvider logs)
    {
        _app = app;
        Logs = logs;
        Client = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
    }

    public HttpClient Client { get; }

    public FakeLoggerProvider Logs { get; }

    public static async Task<HttpTestHost> StartAsync(
        Action<WebApplication> map,
        Action<IServiceCollection>? services = null,
        IReadOnlyDictionary<string, string?>? configuration = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(configuration ?? new Dictionary<string, string?>());
        var logs = new FakeLoggerProvider();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Information);
        // Every G-Edge host registers who may send events; with no settings, events are taken from anyone.
        builder.Services.AddEventSenders();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return new HttpTestHost(app, logs);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A subscriber that records what it is handed and answers as told.</summary>
internal sealed class RecordingSubscriber(Func<CloudEvent, CloudEvent?> answer) : IEventSubscriber
{
    public ConcurrentQueue<CloudEvent> Received { get; } = new();

    public Task<CloudEvent?> HandleAsync(CloudEvent cloudEvent, CancellationToken cancellationToken)
    {
        Received.Enqueue(cloudEvent);
        return Task.FromResult(answer(cloudEvent));
    }
}

/// <summary>A broker stand-in that records what is published to it, or fails as told.</summary>
internal sealed class RecordingPublisher(Exception? failure = null) : IEventPublisher
{
    public ConcurrentQueue<CloudEvent> Published { get; } = new();

    public Task PublishAsync(CloudEvent cloudEvent, CancellationToken cancellationToken = default)
    {
        if (failure is not null)
            throw failure;
        Published.Enqueue(cloudEvent);
        return Task.CompletedTask;
    }
}
