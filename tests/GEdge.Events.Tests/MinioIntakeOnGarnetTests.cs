using System.Net;
using GEdge.Contracts;
using GEdge.Events.AspNetCore;
using GEdge.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GEdge.Events.Tests;

/// <summary>
/// The MinIO webhook end to end with the real intake on the real job table (the embedded Garnet server): an upload
/// that MinIO reports more than once makes one job.
/// </summary>
public sealed class MinioIntakeOnGarnetTests : IAsyncLifetime
{
    private GarnetTestServer? _garnet;
    private ConnectionMultiplexer? _connection;

    public async Task InitializeAsync()
    {
        _garnet = GarnetTestServer.Start();
        _connection = await ConnectionMultiplexer.ConnectAsync(_garnet.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        if (_connection is not null)
            await _connection.DisposeAsync();
        if (_garnet is not null)
            await _garnet.DisposeAsync();
    }

    [Fact]
    public async Task TheSameNotificationDeliveredThreeTimes_MakesOneJob()
    {
        var jobs = new GEdge.JobTable.JobTable(
            _connection!,
            Options.Create(new GEdge.JobTable.JobTableOptions { KeyPrefix = "events-" + Guid.NewGuid().ToString("N") }),
            TimeProvider.System,
            new GEdge.Metrics.GEdgeMetrics(),
            NullLogger<GEdge.JobTable.JobTable>.Instance);
        var intake = new JobIntake(jobs, Options.Create(new StageOptions()), Options.Create(new BucketOptions { Uploads = "videos" }), new GEdge.Metrics.GEdgeMetrics(), NullLogger<JobIntake>.Instance);
        var broker = new RecordingPublisher();
        await using var host = await HttpTestHost.StartAsync(
            app => app.MapMinioNotifications(intake),
            services => services.AddMinioNotifications().AddSingleton<IEventPublisher>(broker),
            new Dictionary<string, string?> { ["Gateway:MinioWebhook:AuthToken"] = MinioNotificationBody.Token, ["Gateway:MinioWebhook:UploadsBucket"] = "videos" });
        var json = MinioNotificationBody.Json("alice%2Fclip+one.mp4");

        for (var delivery = 0; delivery < 3; delivery++)
        {
            using var response = await host.Client.SendAsync(MinioNotificationBody.Request(json));
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        var page = await jobs.ListByUserAsync("alice", 0, 10);
        var job = Assert.Single(page.Jobs);
        Assert.Equal(1, page.Total);
        Assert.Equal("videos/alice/clip one.mp4", job.Path);
        Assert.Equal("mp4", job.Type);
        Assert.Equal(JobStatus.Enqueue, job.Status);
        // Until Preprocess claims the job, every redelivery announces it again, as the same event.
        Assert.Equal(3, broker.Published.Count);
        Assert.All(broker.Published, e => Assert.Equal($"job-{job.Id}-Enqueue-0", e.Id));
    }
}
