using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using GEdge.Contracts;
using GEdge.Events.AspNetCore;
using GEdge.JobTable;
using GEdge.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace GEdge.Events.Tests;

/// <summary>A function's CloudEvents endpoint over real HTTP, with the SDK's own HTTP client side as the sender.</summary>
public sealed class CloudEventEndpointTests
{
    private const string Path = "/";
    private static readonly Uri s_source = new("/gedge/test", UriKind.Relative);
    private readonly JsonEventFormatter _formatter = new();

    [Theory]
    [InlineData(ContentMode.Binary)]
    [InlineData(ContentMode.Structured)]
    public async Task AnEvent_InEitherMode_IsHandedToTheSubscriber_AndItsReplyComesBackInBinaryMode(ContentMode mode)
    {
        var subscriber = new RecordingSubscriber(_ => GEdgeEvents.CreateJobStatusChanged(7, JobStatus.Preprocessing_complete, 0, s_source));
        await using var host = await StartAsync(subscriber);

        using var response = await host.Client.PostAsync(Path, GEdgeEvents.CreateJobStatusChanged(7, JobStatus.Enqueue, 0, s_source).ToHttpContent(mode, _formatter));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(subscriber.Received);
        Assert.Equal("job-7-Enqueue-0", received.Id);
        Assert.Equal(new JobStatusChanged(7, JobStatus.Enqueue), GEdgeEvents.ReadJobStatusChanged(received));
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("1.0", Header(response, "ce-specversion"));
        Assert.Equal("job-7-Preprocessing_complete-0", Header(response, "ce-id"));
        Assert.Equal(GEdgeEvents.JobStatusChangedType, Header(response, "ce-type"));
        Assert.Equal("Preprocessing_complete", Header(response, "ce-jobstatus"));
        Assert.Equal("7", Header(response, "ce-jobid"));
        var reply = await response.ToCloudEventAsync(_formatter, GEdgeEvents.ExtensionAttributes);
        Assert.Equal(new JobStatusChanged(7, JobStatus.Preprocessing_complete), GEdgeEvents.ReadJobStatusChanged(reply));
    }

    [Fact]
    public async Task AnEvent_WithNoReply_Gets202AndNoBody()
    {
        var subscriber = new RecordingSubscriber(_ => null);
        await using var host = await StartAsync(subscriber);

        using var response = await host.Client.PostAsync(Path, GEdgeEvents.CreateJobStatusChanged(8, JobStatus.Enqueue, 0, s_source).ToHttpContent(ContentMode.Binary, _formatter));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Single(subscriber.Received);
    }

    [Fact]
    public async Task HeaderValues_ArePercentDecodedOnTheWayIn_AndPercentEncodedOnTheWayOut()
    {
        var subscriber = new RecordingSubscriber(received =>
        {
            var reply = GEdgeEvents.CreateJobStatusChanged(9, JobStatus.Preprocessing_complete, 0, s_source);
            reply.Subject = "réponse à \"" + received.Subject + "\"";
            return reply;
        });
        await using var host = await StartAsync(subscriber);
        using var request = BinaryRequest(GEdgeEvents.JobStatusChangedType, "{\"jobId\":9,\"status\":\"Enqueue\"}");
        request.Headers.TryAddWithoutValidation("ce-jobstatus", "Enqueue");
        request.Headers.TryAddWithoutValidation("ce-subject", "caf%C3%A9 100%25");

        using var response = await host.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("café 100%", Assert.Single(subscriber.Received).Subject);
        Assert.Equal("r%C3%A9ponse%20%C3%A0%20%22caf%C3%A9%20100%25%22", Header(response, "ce-subject"));
    }

    [Theory]
    [InlineData("no ce-specversion", "MissingSpecVersion", "The request has no 'ce-specversion' header (binary mode) and its Content-Type 'application/json; charset=utf-8' is not application/cloudevents+json (structured mode).")]
    [InlineData("unknown spec version", "UnknownSpecVersion", "The spec version '0.1' is not supported.")]
    [InlineData("bad JSON, structured", "InvalidJson", "The body is not valid JSON: ")]
    [InlineData("bad JSON, binary data", "InvalidJson", "The event data is not valid JSON: ")]
    [InlineData("missing id, structured", "MissingAttribute", "The event has no 'id' attribute.")]
    [InlineData("missing source, structured", "MissingAttribute", "The event has no 'source' attribute.")]
    [InlineData("missing type, structured", "MissingAttribute", "The event has no 'type' attribute.")]
    [InlineData("missing id, binary", "MissingAttribute", "The request has no 'ce-id' header.")]
    [InlineData("missing source, binary", "MissingAttribute", "The request has no 'ce-source' header.")]
    [InlineData("missing type, binary", "MissingAttribute", "The request has no 'ce-type' header.")]
    [InlineData("unknown type", "UnknownEventType", "The event type 'com.example.other' is not one G-Edge handles (dev.gedge.video.uploaded, dev.gedge.job.status.changed, dev.gedge.segment.status.changed, dev.gedge.stage.warmup).")]
    [InlineData("batch mode", "BatchMode", "Batch mode ('application/cloudevents-batch+json') is not accepted: send one event per request.")]
    [InlineData("structured, not JSON", "UnsupportedContentType", "The structured format 'application/cloudevents+avro' is not accepted; G-Edge speaks application/cloudevents+json.")]
    public async Task AMalformedEvent_Gets400WithTheReason_AndNeverReachesTheSubscriber(string malformation, string reason, string detail)
    {
        var subscriber = new RecordingSubscriber(_ => null);
        await using var host = await StartAsync(subscriber);
        using var request = Malformed(malformation);

        using var response = await host.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await ProblemAsync(response);
        Assert.Equal(reason, problem.Reason);
        Assert.StartsWith(detail, problem.Detail, StringComparison.Ordinal);
        Assert.Empty(subscriber.Received);
    }

    [Fact]
    public async Task ABodyLargerThanAnyEvent_Gets413_AndNeverReachesTheSubscriber()
    {
        var subscriber = new RecordingSubscriber(_ => null);
        await using var host = await StartAsync(subscriber);
        var padding = new string('x', CloudEventHttpRequestExtensions.MaxEventBytes);
        using var request = BinaryRequest(GEdgeEvents.VideoUploadedType, $"{{\"padding\":\"{padding}\"}}");

        using var response = await host.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("BodyTooLarge", (await ProblemAsync(response)).Reason);
        Assert.Empty(subscriber.Received);
    }

    [Fact]
    public async Task ASubscriberRefusingTheEvent_Gets400WithItsReason()
    {
        var subscriber = new RecordingSubscriber(_ => throw new InvalidEventException("The video uploaded event needs 'user', 'bucket' and 'key'."));
        await using var host = await StartAsync(subscriber);

        using var response = await host.Client.PostAsync(Path, GEdgeEvents.CreateJobStatusChanged(3, JobStatus.Enqueue, 0, s_source).ToHttpContent(ContentMode.Binary, _formatter));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await ProblemAsync(response);
        Assert.Equal("InvalidEvent", problem.Reason);
        Assert.Equal("The video uploaded event needs 'user', 'bucket' and 'key'.", problem.Detail);
    }

    [Fact]
    public async Task ASubscriberRefusingAnUnsafeKey_Gets400WithItsReason()
    {
        var subscriber = new RecordingSubscriber(_ => throw new InvalidObjectKeyException("../x", "the key has a '.' or '..' segment"));
        await using var host = await StartAsync(subscriber);

        using var response = await host.Client.PostAsync(Path, GEdgeEvents.CreateJobStatusChanged(3, JobStatus.Enqueue, 0, s_source).ToHttpContent(ContentMode.Binary, _formatter));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await ProblemAsync(response);
        Assert.Equal("InvalidObjectKey", problem.Reason);
        Assert.Equal("Invalid object key '../x': the key has a '.' or '..' segment.", problem.Detail);
    }

    [Fact]
    public async Task ASubscriberFailing_Gets500SoTheBrokerRetries_AndTheErrorIsLoggedWithTheEventId()
    {
        var failure = new IOException("storage unavailable");
        var subscriber = new RecordingSubscriber(_ => throw failure);
        await using var host = await StartAsync(subscriber);

        using var response = await host.Client.PostAsync(Path, GEdgeEvents.CreateJobStatusChanged(4, JobStatus.Enqueue, 0, s_source).ToHttpContent(ContentMode.Binary, _formatter));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var problem = await ProblemAsync(response);
        Assert.Equal("HandlerFailed", problem.Reason);
        Assert.DoesNotContain("storage unavailable", problem.Detail, StringComparison.Ordinal);
        var logged = Assert.Single(host.Logs.Collector.GetSnapshot(), e => e.Level == LogLevel.Error);
        Assert.Same(failure, logged.Exception);
        Assert.Equal("Handling event job-4-Enqueue-0 posted to / failed; answering 500 so it is delivered again", logged.Message);
    }

    [Fact]
    public async Task ASubscriberType_IsResolvedFromTheRequestServices()
    {
        var subscriber = new RecordingSubscriber(_ => null);
        await using var host = await HttpTestHost.StartAsync(
            app => app.MapCloudEvents<RecordingSubscriber>("/events"),
            services => services.AddSingleton(subscriber));

        using var response = await host.Client.PostAsync("/events", GEdgeEvents.CreateJobStatusChanged(5, JobStatus.Enqueue, 0, s_source).ToHttpContent(ContentMode.Structured, _formatter));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("job-5-Enqueue-0", Assert.Single(subscriber.Received).Id);
    }

    private static Task<HttpTestHost> StartAsync(IEventSubscriber subscriber) =>
        HttpTestHost.StartAsync(app => app.MapCloudEvents(Path, subscriber));

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? Assert.Single(values) : null;

    private static async Task<(string? Reason, string Detail)> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (problem.RootElement.GetProperty("reason").GetString(), problem.RootElement.GetProperty("detail").GetString()!);
    }

    private static HttpRequestMessage BinaryRequest(string? type, string data, string? id = "e-1", string? source = "/gedge/test", string? specVersion = "1.0")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Path) { Content = new StringContent(data, Encoding.UTF8, "application/json") };
        AddIfPresent(request, "ce-specversion", specVersion);
        AddIfPresent(request, "ce-id", id);
        AddIfPresent(request, "ce-source", source);
        AddIfPresent(request, "ce-type", type);
        return request;

        static void AddIfPresent(HttpRequestMessage request, string name, string? value)
        {
            if (value is not null)
                request.Headers.Add(name, value);
        }
    }

    private static HttpRequestMessage StructuredRequest(string body, string mediaType = "application/cloudevents+json") =>
        new(HttpMethod.Post, Path) { Content = new StringContent(body, new MediaTypeHeaderValue(mediaType)) };

    private static string StructuredEvent(string? id = "e-1", string? source = "/gedge/test", string? type = GEdgeEvents.VideoUploadedType)
    {
        var attributes = new Dictionary<string, string> { ["specversion"] = "1.0" };
        if (id is not null)
            attributes["id"] = id;
        if (source is not null)
            attributes["source"] = source;
        if (type is not null)
            attributes["type"] = type;
        return JsonSerializer.Serialize(attributes);
    }

    private static HttpRequestMessage Malformed(string malformation)
    {
        const string Data = "{\"user\":\"alice\"}";
        return malformation switch
        {
            "no ce-specversion" => BinaryRequest(GEdgeEvents.VideoUploadedType, Data, specVersion: null),
            "unknown spec version" => BinaryRequest(GEdgeEvents.VideoUploadedType, Data, specVersion: "0.1"),
            "bad JSON, structured" => StructuredRequest("{\"specversion\":\"1.0\",\"id\":"),
            "bad JSON, binary data" => BinaryRequest(GEdgeEvents.VideoUploadedType, "{\"user\":"),
            "missing id, structured" => StructuredRequest(StructuredEvent(id: null)),
            "missing source, structured" => StructuredRequest(StructuredEvent(source: null)),
            "missing type, structured" => StructuredRequest(StructuredEvent(type: null)),
            "missing id, binary" => BinaryRequest(GEdgeEvents.VideoUploadedType, Data, id: null),
            "missing source, binary" => BinaryRequest(GEdgeEvents.VideoUploadedType, Data, source: null),
            "missing type, binary" => BinaryRequest(null, Data),
            "unknown type" => BinaryRequest("com.example.other", Data),
            "batch mode" => StructuredRequest("[" + StructuredEvent() + "]", "application/cloudevents-batch+json"),
            "structured, not JSON" => StructuredRequest(StructuredEvent(), "application/cloudevents+avro"),
            _ => throw new ArgumentOutOfRangeException(nameof(malformation), malformation, "No such malformation."),
        };
    }
}
