using System.Collections.Concurrent;
using System.Text;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using GEdge.Events;
using GEdge.Events.AspNetCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace GEdge.Functions.Tests;

/// <summary>
/// Calls a function the way the ASP.NET Core integration does, without the Functions host: a real request
/// (<see cref="DefaultHttpContext"/> with headers and body), the function's action result executed against it, and what
/// it wrote read back.
/// </summary>
internal static class FunctionCalls
{
    public static readonly Uri Source = new("/gedge/tests", UriKind.Relative);

    private static readonly JsonEventFormatter s_formatter = new();

    /// <summary>A POST carrying <paramref name="cloudEvent"/> in <paramref name="mode"/>, encoded by the CloudEvents SDK's own HTTP binding.</summary>
    public static async Task<HttpContext> EventRequestAsync(CloudEvent cloudEvent, ContentMode mode, FakeLoggerProvider? logs = null)
    {
        using var content = cloudEvent.ToHttpContent(mode, s_formatter);
        var context = NewContext(logs);
        foreach (var (name, values) in content.Headers)
        {
            context.Request.Headers[name] = values.ToArray();
        }

        SetBody(context.Request, await content.ReadAsByteArrayAsync());
        return context;
    }

    /// <summary>A POST with the given body and headers, for requests that are not (valid) CloudEvents.</summary>
    public static HttpContext RawRequest(string body, string? contentType, IReadOnlyDictionary<string, string>? headers = null, FakeLoggerProvider? logs = null)
    {
        var context = NewContext(logs);
        context.Request.ContentType = contentType;
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            context.Request.Headers[name] = value;
        }

        SetBody(context.Request, Encoding.UTF8.GetBytes(body));
        return context;
    }

    /// <summary>Executes a function's answer as the integration's proxying middleware does.</summary>
    public static Task ExecuteAsync(IActionResult result, HttpContext context) =>
        result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));

    public static string ResponseText(HttpContext context)
    {
        context.Response.Body.Position = 0;
        return new StreamReader(context.Response.Body, Encoding.UTF8).ReadToEnd();
    }

    public static string? Header(HttpContext context, string name) =>
        context.Response.Headers.TryGetValue(name, out var values) ? values.ToString() : null;

    /// <summary>The reply in the response, decoded by the CloudEvents SDK's HTTP binding.</summary>
    public static async Task<CloudEvent> ReplyAsync(HttpContext context)
    {
        context.Response.Body.Position = 0;
        using var response = new HttpResponseMessage((System.Net.HttpStatusCode)context.Response.StatusCode)
        {
            Content = new StreamContent(context.Response.Body),
        };
        foreach (var (name, values) in context.Response.Headers)
        {
            if (!response.Headers.TryAddWithoutValidation(name, values.ToArray()))
            {
                response.Content.Headers.TryAddWithoutValidation(name, values.ToArray());
            }
        }

        return await response.ToCloudEventAsync(s_formatter, GEdgeEvents.ExtensionAttributes);
    }

    /// <summary>The cluster's sender token the requests carry.</summary>
    public const string SenderToken = "functions-test-sender-token-0123456789abcdef";

    private static DefaultHttpContext NewContext(FakeLoggerProvider? logs)
    {
        // The results write through services (their loggers), as they do inside the worker.
        // And the event senders check, as every function host registers it, with a cluster token the request carries as a
        // broker's delivery does.
        var services = new ServiceCollection()
            .AddLogging(logging => logging.AddProvider(logs ?? new FakeLoggerProvider()))
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Events:Senders:Token"] = SenderToken }).Build())
            .AddEventSenders()
            .BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Headers.Authorization = "Bearer " + SenderToken;
        context.Request.Method = HttpMethods.Post;
        context.Request.Path = "/";
        context.Response.Body = new MemoryStream();
        return context;
    }

    private static void SetBody(HttpRequest request, byte[] body)
    {
        request.Body = new MemoryStream(body);
        request.ContentLength = body.Length;
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

/// <summary>A broker stand-in that records what is published to it.</summary>
internal sealed class RecordingPublisher : IEventPublisher
{
    public ConcurrentQueue<CloudEvent> Published { get; } = new();

    public Task PublishAsync(CloudEvent cloudEvent, CancellationToken cancellationToken = default)
    {
        Published.Enqueue(cloudEvent);
        return Task.CompletedTask;
    }
}
