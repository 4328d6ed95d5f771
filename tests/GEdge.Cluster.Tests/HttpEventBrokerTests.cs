using System.Net;
using System.Text;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.SystemTextJson;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.Events.AspNetCore;
using GEdge.Events.Broker;
using GEdge.JobTable;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace GEdge.Cluster.Tests;

/// <summary>The local broker against stub subscribers on real HTTP: routing, replies, retries, the dead-letter sink.</summary>
public sealed class HttpEventBrokerTests : IAsyncLifetime
{
    private static readonly Uri s_source = new("/gedge/test", UriKind.Relative);
    private static readonly DeliveryOptions s_quickRetries = new() { Retry = 2, BackoffDelay = TimeSpan.FromMilliseconds(10) };
    private readonly ServiceProvider _services = new ServiceCollection().AddHttpClient().BuildServiceProvider();
    private StubSubscribers _stubs = null!;

    public async Task InitializeAsync() => _stubs = await StubSubscribers.StartAsync();

    public async Task DisposeAsync()
    {
        await _stubs.DisposeAsync();
        await _services.DisposeAsync();
    }

    [Fact]
    public async Task Publish_DeliversInBinaryModeToTheMatchingSubscriber_AndRoutesItsReplyToTheNext()
    {
        _stubs.Respond("preprocess", (_, context) => context.Response.WriteCloudEventAsync(
            GEdgeEvents.CreateSegmentStatusChanged(7, 0, JobStatus.Preprocessing_complete, 0, s_source), ContentMode.Binary, new JsonEventFormatter()));
        await using var broker = NewBroker(new DeliveryOptions(), (GEdgeTriggers.Cut, "preprocess"), (GEdgeTriggers.Infer, "infer"));

        broker.Publish(GEdgeEvents.CreateJobStatusChanged(7, JobStatus.Enqueue, 0, s_source));

        var delivered = await _stubs.NextAsync("preprocess");
        Assert.Equal("1.0", delivered.CloudEventHeaders["ce-specversion"]);
        Assert.Equal("job-7-Enqueue-0", delivered.CloudEventHeaders["ce-id"]);
        Assert.Equal("Enqueue", delivered.CloudEventHeaders["ce-jobstatus"]);
        Assert.Equal("application/json", delivered.ContentType);
        Assert.Equal("""{"jobId":7,"status":"Enqueue"}""", delivered.Body);
        var reply = await _stubs.NextAsync("infer");
        Assert.Equal("job-7-segment-0-Preprocessing_complete-0", reply.CloudEventHeaders["ce-id"]);
        Assert.Equal("Preprocessing_complete", reply.CloudEventHeaders["ce-jobstatus"]);
    }

    [Fact]
    public async Task Delivery_WhenTheSubscriberAnswers503_IsRetried_AndNotDeadLetteredOnceItSucceeds()
    {
        var attempts = 0;
        _stubs.Respond("preprocess", (_, context) =>
        {
            context.Response.StatusCode = Interlocked.Increment(ref attempts) < 3 ? 503 : 202;
            return Task.CompletedTask;
        });
        await using var broker = NewBroker(s_quickRetries, (GEdgeTriggers.Cut, "preprocess"));

        broker.Publish(GEdgeEvents.CreateJobStatusChanged(8, JobStatus.Enqueue, 0, s_source));

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("job-8-Enqueue-0", (await _stubs.NextAsync("preprocess")).CloudEventHeaders["ce-id"]);
        }

        await broker.DisposeAsync();
        Assert.Equal(3, attempts);
        Assert.Equal(0, _stubs.Pending("dead-letter"));
    }

    [Fact]
    public async Task Delivery_WhenTheSubscriberKeepsFailing_GoesToTheDeadLetterSinkAfterItsRetries_WithKnativesErrorAttributes()
    {
        _stubs.Respond("preprocess", 500, "the job table is unavailable");
        await using var broker = NewBroker(s_quickRetries, (GEdgeTriggers.Cut, "preprocess"));

        broker.Publish(GEdgeEvents.CreateJobStatusChanged(9, JobStatus.Enqueue, 0, s_source));

        var letter = await _stubs.NextAsync("dead-letter");
        Assert.Equal(3, _stubs.Pending("preprocess"));
        Assert.Equal("job-9-Enqueue-0", letter.CloudEventHeaders["ce-id"]);
        Assert.Equal("Enqueue", letter.CloudEventHeaders["ce-jobstatus"]);
        Assert.Equal(_stubs.Address("preprocess").ToString(), letter.CloudEventHeaders["ce-knativeerrordest"]);
        Assert.Equal("500", letter.CloudEventHeaders["ce-knativeerrorcode"]);
        Assert.Equal("the job table is unavailable", Encoding.UTF8.GetString(Convert.FromBase64String(letter.CloudEventHeaders["ce-knativeerrordata"])));
        Assert.Equal("""{"jobId":9,"status":"Enqueue"}""", letter.Body);
    }

    [Fact]
    public async Task Delivery_WhenTheSubscriberRefusesTheEventWith400_IsDeadLetteredWithoutRetries()
    {
        _stubs.Respond("preprocess", 400, "malformed");
        await using var broker = NewBroker(s_quickRetries, (GEdgeTriggers.Cut, "preprocess"));

        broker.Publish(GEdgeEvents.CreateJobStatusChanged(10, JobStatus.Enqueue, 0, s_source));

        var letter = await _stubs.NextAsync("dead-letter");
        Assert.Equal("400", letter.CloudEventHeaders["ce-knativeerrorcode"]);
        Assert.Equal(1, _stubs.Pending("preprocess"));
    }

    [Fact]
    public async Task Delivery_WhenTheSubscriberCannotBeReached_IsDeadLetteredWithoutAStatus()
    {
        var closed = new Uri($"http://127.0.0.1:{ClosedPort()}/");
        var route = new BrokerRoute(GEdgeTriggers.Cut, closed, s_quickRetries, _stubs.Address("dead-letter"));
        // No activator: a refused connection is a failed attempt at once.
        var options = new BrokerOptions { ActivatorTimeout = TimeSpan.Zero };
        await using var broker = new HttpEventBroker([route], options, _services.GetRequiredService<IHttpClientFactory>(), NullLogger<HttpEventBroker>.Instance);

        broker.Publish(GEdgeEvents.CreateJobStatusChanged(11, JobStatus.Enqueue, 0, s_source));

        var letter = await _stubs.NextAsync("dead-letter");
        Assert.Equal(closed.ToString(), letter.CloudEventHeaders["ce-knativeerrordest"]);
        Assert.False(letter.CloudEventHeaders.ContainsKey("ce-knativeerrorcode"));
        Assert.Contains("refused", Encoding.UTF8.GetString(Convert.FromBase64String(letter.CloudEventHeaders["ce-knativeerrordata"])), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Delivery_ToASubscriberThatStartsListeningLater_IsHeldUntilItDoes_AndNotDeadLettered()
    {
        // A process being started again: nothing listens on its port for a while, then it answers.
        var port = ClosedPort();
        var route = new BrokerRoute(GEdgeTriggers.Cut, new Uri($"http://127.0.0.1:{port}/"), s_quickRetries, _stubs.Address("dead-letter"));
        await using var broker = new HttpEventBroker([route], new BrokerOptions(), _services.GetRequiredService<IHttpClientFactory>(), NullLogger<HttpEventBroker>.Instance);

        broker.Publish(GEdgeEvents.CreateJobStatusChanged(12, JobStatus.Enqueue, 0, s_source));
        await Task.Delay(TimeSpan.FromSeconds(1));
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, port);
        listener.Start();
        using var client = await listener.AcceptTcpClientAsync();
        var stream = client.GetStream();
        var request = new StringBuilder();
        var buffer = new byte[4096];
        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            request.Append(Encoding.ASCII.GetString(buffer, 0, await stream.ReadAsync(buffer)));
        }

        await stream.WriteAsync("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());

        Assert.Contains("ce-id: job-12-Enqueue-0", request.ToString(), StringComparison.OrdinalIgnoreCase);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.Equal(0, _stubs.Pending("dead-letter"));
    }

    [Fact]
    public async Task Publish_WithDuplicateDeliveries_DeliversEveryEventTwice()
    {
        await using var broker = NewBroker(s_quickRetries with { DuplicateDeliveries = true }, (GEdgeTriggers.Cut, "preprocess"));

        broker.Publish(GEdgeEvents.CreateJobStatusChanged(12, JobStatus.Enqueue, 0, s_source));

        Assert.Equal("job-12-Enqueue-0", (await _stubs.NextAsync("preprocess")).CloudEventHeaders["ce-id"]);
        Assert.Equal("job-12-Enqueue-0", (await _stubs.NextAsync("preprocess")).CloudEventHeaders["ce-id"]);
        await broker.DisposeAsync();
        Assert.Equal(0, _stubs.Pending("preprocess"));
    }

    [Fact]
    public async Task Publish_WhenNoTriggerMatches_DeliversNothing()
    {
        // One delivery at a time, so the events queued before the last ones would have arrived before them.
        await using var broker = NewBroker(s_quickRetries, new BrokerOptions { MaxConcurrentDeliveries = 1 }, (GEdgeTriggers.Cut, "preprocess"), (GEdgeTriggers.Infer, "infer"));

        broker.Publish(GEdgeEvents.CreateJobStatusChanged(13, JobStatus.Exit, 0, s_source));
        broker.Publish(GEdgeEvents.CreateJobStatusChanged(13, JobStatus.Preprocessing, 0, s_source));
        broker.Publish(GEdgeEvents.CreateVideoUploaded(new VideoUploaded("alice", "uploads", "alice/a.mp4", "etag", 1), s_source));
        broker.Publish(GEdgeEvents.CreateJobStatusChanged(14, JobStatus.Enqueue, 0, s_source));
        broker.Publish(GEdgeEvents.CreateJobStatusChanged(14, JobStatus.Preprocessing_complete, 0, s_source));
        broker.Publish(GEdgeEvents.CreateSegmentStatusChanged(14, 2, JobStatus.Preprocessing_complete, 0, s_source));

        Assert.Equal("job-14-Enqueue-0", (await _stubs.NextAsync("preprocess")).CloudEventHeaders["ce-id"]);
        Assert.Equal("job-14-segment-2-Preprocessing_complete-0", (await _stubs.NextAsync("infer")).CloudEventHeaders["ce-id"]);
        await broker.DisposeAsync();
        Assert.Equal((0, 0), (_stubs.Pending("preprocess"), _stubs.Pending("infer")));
    }

    [Fact]
    public async Task AServiceWithSeveralPods_GetsEachDeliveryOnItsLeastLoadedPod()
    {
        // Each pod holds a delivery for a moment, as a stage does while it works: the second event goes to the idle pod.
        foreach (var pod in new[] { "preprocess", "preprocess-2" })
        {
            _stubs.Respond(pod, async (_, context) =>
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500));
                context.Response.StatusCode = 202;
            });
        }

        await using var broker = new HttpEventBroker(
            [new BrokerRoute(GEdgeTriggers.Cut, _stubs.Address("preprocess"), s_quickRetries, _stubs.Address("dead-letter"), [_stubs.Address("preprocess-2")])],
            new BrokerOptions(),
            _services.GetRequiredService<IHttpClientFactory>(),
            NullLogger<HttpEventBroker>.Instance);

        broker.Publish(GEdgeEvents.CreateJobStatusChanged(21, JobStatus.Enqueue, 0, s_source));
        broker.Publish(GEdgeEvents.CreateJobStatusChanged(22, JobStatus.Enqueue, 0, s_source));

        var first = (await _stubs.NextAsync("preprocess")).CloudEventHeaders["ce-id"];
        var second = (await _stubs.NextAsync("preprocess-2")).CloudEventHeaders["ce-id"];
        Assert.Equal(["job-21-Enqueue-0", "job-22-Enqueue-0"], new[] { first, second }.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public async Task APodTakesAtMostItsContainerConcurrency_WhicheverTriggerSends_TheRestWaitTheirTurn(int containerConcurrency)
    {
        // Two Triggers to one Service (as postprocess takes segments and the join); each request holds the pod until the
        // test lets it go, as a stage holds its request while it works.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stubs.Respond("postprocess", async (_, context) =>
        {
            await release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            context.Response.StatusCode = 202;
        });
        await using var broker = new HttpEventBroker(
            [
                new BrokerRoute(GEdgeTriggers.Postprocess, _stubs.Address("postprocess"), s_quickRetries, _stubs.Address("dead-letter"), ContainerConcurrency: containerConcurrency),
                new BrokerRoute(GEdgeTriggers.Join, _stubs.Address("postprocess"), s_quickRetries, _stubs.Address("dead-letter"), ContainerConcurrency: containerConcurrency),
            ],
            new BrokerOptions(),
            _services.GetRequiredService<IHttpClientFactory>(),
            NullLogger<HttpEventBroker>.Instance);

        broker.Publish(GEdgeEvents.CreateSegmentStatusChanged(31, 0, JobStatus.Inferencing_complete, 0, s_source));
        broker.Publish(GEdgeEvents.CreateSegmentStatusChanged(31, 1, JobStatus.Inferencing_complete, 0, s_source));
        broker.Publish(GEdgeEvents.CreateJobStatusChanged(32, JobStatus.Postprocessing_complete, 0, s_source));

        var delivered = new List<string> { (await _stubs.NextAsync("postprocess")).CloudEventHeaders["ce-id"] };
        if (containerConcurrency == 1)
        {
            // The pod is busy: the other two wait in the broker, not in the pod.
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            Assert.Equal(0, _stubs.Pending("postprocess"));
            release.SetResult();
        }

        // Without a limit all three are in the pod at once, before any is let go.
        for (var i = 1; i < 3; i++)
        {
            delivered.Add((await _stubs.NextAsync("postprocess")).CloudEventHeaders["ce-id"]);
        }

        release.TrySetResult();
        Assert.Equal(3, delivered.Distinct().Count());
    }

    [Fact]
    public async Task CpuBoundRequests_TakeTheNodesCoresWhicheverServiceTheyGoTo_TheRestWaitForACore_OtherWorkDoesNot()
    {
        // One core: a preprocess request holds it until the test lets it go; infer's request (CPU-bound too) waits for
        // it in the broker, and work that is not CPU-bound goes straight through meanwhile.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stubs.Respond("preprocess", async (_, context) =>
        {
            await release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            context.Response.StatusCode = 202;
        });
        await using var broker = new HttpEventBroker(
            [
                new BrokerRoute(GEdgeTriggers.Preprocess, _stubs.Address("preprocess"), s_quickRetries, _stubs.Address("dead-letter"), ContainerConcurrency: 2, HoldsACore: true),
                new BrokerRoute(GEdgeTriggers.Infer, _stubs.Address("infer"), s_quickRetries, _stubs.Address("dead-letter"), ContainerConcurrency: 1, HoldsACore: true),
                // Not CPU-bound (as a Service asking for less than a core): the join's route stands in for any such.
                new BrokerRoute(GEdgeTriggers.Join, _stubs.Address("gateway-events"), s_quickRetries, _stubs.Address("dead-letter")),
            ],
            new BrokerOptions { NodeCores = 1 },
            _services.GetRequiredService<IHttpClientFactory>(),
            NullLogger<HttpEventBroker>.Instance);

        broker.Publish(GEdgeEvents.CreateSegmentStatusChanged(41, 0, JobStatus.Enqueue, 0, s_source));
        Assert.Equal("job-41-segment-0-Enqueue-0", (await _stubs.NextAsync("preprocess")).CloudEventHeaders["ce-id"]);
        broker.Publish(GEdgeEvents.CreateSegmentStatusChanged(41, 1, JobStatus.Preprocessing_complete, 0, s_source));
        broker.Publish(GEdgeEvents.CreateJobStatusChanged(42, JobStatus.Postprocessing_complete, 0, s_source));

        await _stubs.NextAsync("gateway-events");
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.Equal(0, _stubs.Pending("infer"));

        release.SetResult();
        Assert.Equal("job-41-segment-1-Preprocessing_complete-0", (await _stubs.NextAsync("infer")).CloudEventHeaders["ce-id"]);
    }

    [Fact]
    public async Task AnAutoscaledServiceWithNoPod_HoldsTheDelivery_AsARequest_UntilAPodIsAnnounced_ThenListsItDrainingOnceTakenOut()
    {
        // As a Service scaled to zero: the broker holds the event (Knative's activator) and reports it as a request, which
        // is what starts a pod; the announced pod gets it; taken out while it works, the pod is listed, not ready, until
        // its delivery is answered, so whoever stops it waits for that.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _stubs.Respond("preprocess", async (_, context) =>
        {
            await release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            context.Response.StatusCode = 202;
        });
        await using var broker = NewBroker(
            s_quickRetries,
            new BrokerOptions { Autoscaled = ["preprocess"], Services = new(StringComparer.Ordinal) { ["preprocess"] = _stubs.BaseAddress } },
            (GEdgeTriggers.Cut, "preprocess"));

        broker.Publish(GEdgeEvents.CreateJobStatusChanged(51, JobStatus.Enqueue, 0, s_source));
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.Equal(0, _stubs.Pending("preprocess"));
        var held = Assert.Single(broker.Load(), s => s.Service == "preprocess");
        Assert.Equal((1, true), (held.Requests, held.Autoscaled));
        Assert.Empty(held.Pods);

        broker.SetPods("preprocess", [_stubs.BaseAddress]);
        Assert.Equal("job-51-Enqueue-0", (await _stubs.NextAsync("preprocess")).CloudEventHeaders["ce-id"]);
        Assert.Equal([new PodLoad(_stubs.BaseAddress, 1, Ready: true)], broker.Load().Single(s => s.Service == "preprocess").Pods);

        broker.SetPods("preprocess", []);
        Assert.Equal([new PodLoad(_stubs.BaseAddress, 1, Ready: false)], broker.Load().Single(s => s.Service == "preprocess").Pods);
        release.SetResult();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (broker.Load().Single(s => s.Service == "preprocess") is { Requests: > 0 } or { Pods.Count: > 0 } && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        var drained = broker.Load().Single(s => s.Service == "preprocess");
        Assert.Equal(0, drained.Requests);
        Assert.Empty(drained.Pods);
        Assert.Equal(0, _stubs.Pending("dead-letter"));
    }

    [Fact]
    public async Task AnAutoscaledServiceWhosePodNeverComes_IsDeadLetteredAfterTheActivatorTimeoutAndItsRetries_SayingSo()
    {
        await using var broker = NewBroker(
            s_quickRetries,
            new BrokerOptions
            {
                Autoscaled = ["preprocess"],
                Services = new(StringComparer.Ordinal) { ["preprocess"] = _stubs.BaseAddress },
                ActivatorTimeout = TimeSpan.FromMilliseconds(200),
            },
            (GEdgeTriggers.Cut, "preprocess"));

        broker.Publish(GEdgeEvents.CreateJobStatusChanged(52, JobStatus.Enqueue, 0, s_source));

        var letter = await _stubs.NextAsync("dead-letter");
        Assert.Contains("No pod of preprocess became ready", Encoding.UTF8.GetString(Convert.FromBase64String(letter.CloudEventHeaders["ce-knativeerrordata"])), StringComparison.Ordinal);
        Assert.Equal(0, _stubs.Pending("preprocess"));
    }

    [Fact]
    public async Task SetPods_TakesOnlyAnAutoscaledService_AndHttpAddresses()
    {
        await using var broker = NewBroker(
            s_quickRetries,
            new BrokerOptions { Autoscaled = ["infer"], Services = new(StringComparer.Ordinal) { ["infer"] = _stubs.BaseAddress } },
            (GEdgeTriggers.Cut, "preprocess"),
            (GEdgeTriggers.Infer, "infer"));

        Assert.Contains("the autoscaled ones are infer", Assert.Throws<ArgumentException>(() => broker.SetPods("preprocess", [_stubs.BaseAddress])).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => broker.SetPods("infer", [new Uri("ftp://127.0.0.1:21/")]));
        Assert.False(broker.Load().Single(s => s.Service == "preprocess").Autoscaled);
        Assert.Equal([new PodLoad(_stubs.BaseAddress, 0, Ready: true)], broker.Load().Single(s => s.Service == "preprocess").Pods);
    }

    // A port that was free a moment ago: nothing listens there.
    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private HttpEventBroker NewBroker(DeliveryOptions delivery, params (EventTrigger Trigger, string Stub)[] routes) =>
        NewBroker(delivery, new BrokerOptions(), routes);

    private HttpEventBroker NewBroker(DeliveryOptions delivery, BrokerOptions options, params (EventTrigger Trigger, string Stub)[] routes) => new(
        routes.Select(r => new BrokerRoute(r.Trigger, _stubs.Address(r.Stub), delivery, _stubs.Address("dead-letter"))).ToList(),
        options,
        _services.GetRequiredService<IHttpClientFactory>(),
        NullLogger<HttpEventBroker>.Instance);
}
