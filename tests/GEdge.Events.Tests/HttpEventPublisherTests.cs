using System.Net;
using GEdge.Contracts;
using GEdge.Events.AspNetCore;
using GEdge.JobTable;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Events.Tests;

/// <summary>The broker publisher, posting to a real HTTP endpoint that reads events with this project's own binding.</summary>
public sealed class HttpEventPublisherTests
{
    private static readonly Uri s_source = new("/gedge/test", UriKind.Relative);

    [Fact]
    public async Task Publish_PostsTheEventInBinaryModeToTheKnativeSink()
    {
        var broker = new RecordingSubscriber(_ => null);
        await using var brokerHost = await HttpTestHost.StartAsync(app => app.MapCloudEvents("/ingress", broker));
        await using var services = Publisher(new() { ["K_SINK"] = new Uri(brokerHost.Client.BaseAddress!, "/ingress").ToString() });

        await services.GetRequiredService<IEventPublisher>().PublishAsync(GEdgeEvents.CreateJobStatusChanged(11, JobStatus.Enqueue, 0, s_source));

        var received = Assert.Single(broker.Received);
        Assert.Equal("job-11-Enqueue-0", received.Id);
        Assert.Equal("Enqueue", received[GEdgeEvents.JobStatusAttribute]);
        Assert.Equal(new JobStatusChanged(11, JobStatus.Enqueue), GEdgeEvents.ReadJobStatusChanged(received));
    }

    [Fact]
    public async Task Publish_WhenTheBrokerRefuses_ThrowsWithItsStatus()
    {
        var broker = new RecordingSubscriber(_ => throw new InvalidEventException("no"));
        await using var brokerHost = await HttpTestHost.StartAsync(app => app.MapCloudEvents("/ingress", broker));
        await using var services = Publisher(new() { ["Events:Sink"] = new Uri(brokerHost.Client.BaseAddress!, "/ingress").ToString() });

        var error = await Assert.ThrowsAsync<HttpRequestException>(() =>
            services.GetRequiredService<IEventPublisher>().PublishAsync(GEdgeEvents.CreateJobStatusChanged(12, JobStatus.Enqueue, 0, s_source)));

        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
    }

    [Fact]
    public async Task Publish_WithNoSinkConfigured_ThrowsNamingBothSettings()
    {
        await using var services = Publisher([]);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            services.GetRequiredService<IEventPublisher>().PublishAsync(GEdgeEvents.CreateJobStatusChanged(13, JobStatus.Enqueue, 0, s_source)));

        Assert.Equal("No broker to publish to: neither Events:Sink nor K_SINK is set.", error.Message);
    }

    private static ServiceProvider Publisher(Dictionary<string, string?> configuration) =>
        new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(configuration).Build())
            .AddLogging()
            .AddHttpEventPublisher()
            .BuildServiceProvider();
}
