using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GEdge.Cluster.Tests;

/// <summary>What a stub subscriber was sent: the CloudEvents headers, the content type and the body.</summary>
public sealed record ReceivedRequest(string Subscriber, IReadOnlyDictionary<string, string> CloudEventHeaders, string? ContentType, string Body);

/// <summary>
/// Stub subscribers on a real Kestrel server: <c>POST /{name}</c> is recorded and answered by the responder set for
/// that name (202 by default), so a broker can be watched delivering, retrying and dead-lettering over real HTTP.
/// </summary>
public sealed class StubSubscribers : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Func<ReceivedRequest, HttpContext, Task>> _responders = new();
    private readonly ConcurrentDictionary<string, Channel<ReceivedRequest>> _received = new();

    private StubSubscribers(WebApplication app) => _app = app;

    public Uri BaseAddress => new(_app.Urls.Single() + "/");

    public static async Task<StubSubscribers> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var stubs = new StubSubscribers(app);
        app.MapPost("/{name}", stubs.HandleAsync);
        await app.StartAsync();
        return stubs;
    }

    public Uri Address(string name) => new(BaseAddress, name);

    /// <summary>Sets how <paramref name="name"/> answers each request.</summary>
    public void Respond(string name, Func<ReceivedRequest, HttpContext, Task> responder) => _responders[name] = responder;

    /// <summary>Sets <paramref name="name"/> to answer with <paramref name="status"/> and <paramref name="body"/>.</summary>
    public void Respond(string name, int status, string body = "") => Respond(name, (_, context) =>
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsync(body);
    });

    /// <summary>The next request <paramref name="name"/> receives (at most ten seconds away).</summary>
    public async Task<ReceivedRequest> NextAsync(string name)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await Queue(name).Reader.ReadAsync(timeout.Token);
    }

    /// <summary>How many requests <paramref name="name"/> has received and not yet been taken with <see cref="NextAsync"/>.</summary>
    public int Pending(string name) => Queue(name).Reader.Count;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(string name, HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync();
        var headers = context.Request.Headers
            .Where(h => h.Key.StartsWith("ce-", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString(), StringComparer.Ordinal);
        var request = new ReceivedRequest(name, headers, context.Request.ContentType, body);
        Queue(name).Writer.TryWrite(request);
        if (_responders.TryGetValue(name, out var responder))
        {
            await responder(request, context);
        }
        else
        {
            context.Response.StatusCode = StatusCodes.Status202Accepted;
        }
    }

    private Channel<ReceivedRequest> Queue(string name) => _received.GetOrAdd(name, _ => Channel.CreateUnbounded<ReceivedRequest>());
}
