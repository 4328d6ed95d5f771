using System.Collections.Concurrent;
using System.Threading.Channels;
using CloudNative.CloudEvents;
using GEdge.Contracts;
using GEdge.JobTable;
using Microsoft.Extensions.Logging.Abstractions;

namespace GEdge.Events.Tests;

public sealed class InProcessEventRouterTests
{
    private static readonly Uri s_source = new("/gedge/test", UriKind.Relative);

    [Fact]
    public async Task Publish_DeliversToTheMatchingSubscriber_AndPublishesItsReply()
    {
        var preprocess = new Recorder(e => GEdgeEvents.CreateSegmentStatusChanged(1, 0, JobStatus.Preprocessing_complete, 0, s_source));
        var infer = new Recorder(_ => null);
        await using var router = NewRouter(new DeliveryOptions(), (GEdgeTriggers.Cut, preprocess), (GEdgeTriggers.Infer, infer));

        router.Publish(GEdgeEvents.CreateJobStatusChanged(1, JobStatus.Enqueue, 0, s_source));

        var delivered = await infer.NextAsync();
        Assert.Equal("Preprocessing_complete", delivered[GEdgeEvents.JobStatusAttribute]);
        Assert.Single(preprocess.Received);
    }

    [Fact]
    public async Task Delivery_WhenTheSubscriberFails_IsRetried_ThenDeadLettered()
    {
        var attempts = 0;
        var failing = new Recorder(_ =>
        {
            Interlocked.Increment(ref attempts);
            throw new IOException("storage unavailable");
        });
        await using var router = NewRouter(new DeliveryOptions { Retry = 2, BackoffDelay = TimeSpan.FromMilliseconds(1) }, (GEdgeTriggers.Cut, failing));
        var deadLetters = new TaskCompletionSource<(CloudEvent, Exception)>();
        router.DeadLettered += (cloudEvent, _, error) =>
        {
            deadLetters.TrySetResult((cloudEvent, error));
            return Task.CompletedTask;
        };

        router.Publish(GEdgeEvents.CreateJobStatusChanged(3, JobStatus.Enqueue, 0, s_source));

        var (deadEvent, error) = await deadLetters.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, attempts);
        Assert.Equal("job-3-Enqueue-0", deadEvent.Id);
        Assert.IsType<IOException>(error);
    }

    [Fact]
    public async Task Delivery_WithNoRetries_IsDeadLetteredAtTheFirstFailure()
    {
        var attempts = 0;
        var failing = new Recorder(_ =>
        {
            Interlocked.Increment(ref attempts);
            throw new IOException("storage unavailable");
        });
        await using var router = NewRouter(new DeliveryOptions { Retry = 0 }, (GEdgeTriggers.Cut, failing));
        var deadLetters = new TaskCompletionSource<CloudEvent>();
        router.DeadLettered += (cloudEvent, _, _) =>
        {
            deadLetters.TrySetResult(cloudEvent);
            return Task.CompletedTask;
        };

        router.Publish(GEdgeEvents.CreateJobStatusChanged(4, JobStatus.Enqueue, 0, s_source));

        Assert.Equal("job-4-Enqueue-0", (await deadLetters.Task.WaitAsync(TimeSpan.FromSeconds(10))).Id);
        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task DuplicateDeliveries_DeliverEveryEventTwice()
    {
        var recorder = new Recorder(_ => null);
        await using var router = NewRouter(new DeliveryOptions { DuplicateDeliveries = true }, (GEdgeTriggers.Cut, recorder));

        router.Publish(GEdgeEvents.CreateJobStatusChanged(5, JobStatus.Enqueue, 0, s_source));

        await recorder.NextAsync();
        await recorder.NextAsync();
        Assert.Equal(2, recorder.Received.Count);
    }

    private static InProcessEventRouter NewRouter(DeliveryOptions options, params (EventTrigger Trigger, IEventSubscriber Subscriber)[] routes) =>
        new(routes.Select(r => new Subscription(r.Trigger, r.Subscriber)), options, NullLogger<InProcessEventRouter>.Instance);

    private sealed class Recorder(Func<CloudEvent, CloudEvent?> reply) : IEventSubscriber
    {
        private readonly Channel<CloudEvent> _arrived = Channel.CreateUnbounded<CloudEvent>();

        public ConcurrentQueue<CloudEvent> Received { get; } = new();

        public Task<CloudEvent?> HandleAsync(CloudEvent cloudEvent, CancellationToken cancellationToken)
        {
            var answer = reply(cloudEvent);
            Received.Enqueue(cloudEvent);
            _arrived.Writer.TryWrite(cloudEvent);
            return Task.FromResult(answer);
        }

        public async Task<CloudEvent> NextAsync() =>
            await _arrived.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }
}
