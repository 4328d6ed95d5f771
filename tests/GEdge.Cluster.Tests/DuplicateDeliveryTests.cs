using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using GEdge.Contracts;
using GEdge.Gateway;
using GEdge.JobTable;

namespace GEdge.Cluster.Tests;

/// <summary>At-least-once delivery over HTTP: a broker that delivers every event twice still makes one result per job.</summary>
[Collection(OneClusterAtATime.Name)]
public sealed class DuplicateDeliveryTests(DuplicatingClusterFixture cluster) : IClassFixture<DuplicatingClusterFixture>
{
    [Fact]
    public async Task Submit_WhenTheBrokerDeliversEveryEventTwice_MakesOneResult_WithNoRetries()
    {
        await using var video = File.OpenRead(Path.Combine(AppContext.BaseDirectory, "assets", "road.mp4"));
        using var upload = new StreamContent(video);
        upload.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");

        using var created = await cluster.Api.PostAsync("api/jobs?name=road.mp4", upload);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = long.Parse((await created.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView))!.Job[JobFields.Id], CultureInfo.InvariantCulture);
        var job = await cluster.WaitForExitAsync(id, TimeSpan.FromMinutes(2));
        Assert.False(job.Job.ContainsKey(JobFields.Error), job.Job.GetValueOrDefault(JobFields.Error));
        Assert.Equal("0", job.Job[JobFields.Iteration]);
        Assert.Equal(8, job.History.Count);
        Assert.Equal(
            ["annotated.mp4", "detections.json", "summary.json"],
            Directory.GetFiles(Path.Combine(cluster.Storage, "results", "local", id.ToString(CultureInfo.InvariantCulture))).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["detections", "summary", "video"], job.Results.Keys.Order(StringComparer.Ordinal));

        foreach (var (eventId, stage, moved) in ClusterJobs.Moves(id))
        {
            // Each event reached its function twice; one delivery made the move, the other found it made.
            Assert.Equal(2, (await cluster.WaitForLogLinesAsync("broker", $"Delivered {eventId} to {cluster.Services[stage]}", 2)).Count);
            Assert.Single(await cluster.WaitForLogLinesAsync(stage, moved, 1));
        }

        Assert.Single(await cluster.WaitForLogLinesAsync("preprocess", $"{id} not taken for Preprocessing", 1));
        foreach (var (stage, working) in new[] { ("preprocess", JobStatus.Preprocessing), ("infer", JobStatus.Inferencing), ("postprocess", JobStatus.Postprocessing) })
        {
            Assert.Single(await cluster.WaitForLogLinesAsync(stage, $"{id} segment 0 not claimed for {working}", 1));
        }

        Assert.Single(await cluster.WaitForLogLinesAsync("postprocess", $"{id} not taken for Postprocessing_complete", 1));
    }
}
