using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace GEdge.Cluster.Tests;

/// <summary>One span as a process exported it, with the service (process) it came from.</summary>
public sealed record ReceivedSpan(string Service, Span Span)
{
    /// <summary>The span's trace id, as hex.</summary>
    public string TraceId => Convert.ToHexStringLower(Span.TraceId.Span);

    /// <summary>The span's id, as hex.</summary>
    public string SpanId => Convert.ToHexStringLower(Span.SpanId.Span);

    /// <summary>Its parent's id, as hex; empty for a root.</summary>
    public string ParentSpanId => Convert.ToHexStringLower(Span.ParentSpanId.Span);

    /// <summary>The value of one attribute, as text (an integer's digits); null when the span has none.</summary>
    public string? Attribute(string key) => Span.Attributes.FirstOrDefault(a => a.Key == key)?.Value switch
    {
        null => null,
        { ValueCase: OpenTelemetry.Proto.Common.V1.AnyValue.ValueOneofCase.IntValue } v => v.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        var v => v.StringValue,
    };
}

/// <summary>
/// An OTLP/HTTP receiver of traces, as an OpenTelemetry Collector is one: <c>POST /v1/traces</c> with an
/// <c>ExportTraceServiceRequest</c> in protobuf, decoded with the messages of opentelemetry-proto (Otlp/, Apache-2.0).
/// Debian packages neither the Collector nor Jaeger, so the tests host this one; it keeps every span it is sent.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();

    private OtlpReceiver(WebApplication app)
    {
        _app = app;
    }

    /// <summary>Where the processes send: the value of <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Every span received so far.</summary>
    public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            var export = ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray());
            foreach (var resource in export.ResourceSpans)
            {
                var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value.StringValue ?? "";
                foreach (var span in resource.ScopeSpans.SelectMany(scope => scope.Spans))
                {
                    receiver._spans.Enqueue(new ReceivedSpan(service, span));
                }
            }

            return Results.Bytes(new ExportTraceServiceResponse().ToByteArray(), "application/x-protobuf");
        });
        await app.StartAsync();
        receiver.Endpoint = new Uri(app.Urls.Single());
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
