using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.Gateway;
using GEdge.JobTable;
using GEdge.Jobs;
using Microsoft.Extensions.Logging.Testing;

namespace GEdge.Gateway.Tests;

/// <summary>Jobs that run: the whole flow a user sees through the API, and a video that passes the content check but cannot be decoded.</summary>
public sealed class PipelineFlowTests(PipelineGatewayServer server) : IClassFixture<PipelineGatewayServer>
{
    [Fact]
    public async Task AVideo_IsSubmitted_Runs_IsListed_Streamed_WithRanges_Read_AndDeleted()
    {
        using var alice = server.ClientOf("alice");
        await using var file = File.OpenRead(Videos.SamplePath);
        using var body = new StreamContent(file);
        body.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");

        using var created = await alice.PostAsync("api/jobs?name=road.mp4", body);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = JobsApiTests.Id((await created.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView))!);
        var job = await PipelineGatewayServer.WaitForExitAsync(alice, id);
        Assert.False(job.Job.ContainsKey(JobFields.Error), job.Job.GetValueOrDefault(JobFields.Error));
        Assert.Equal(
            [JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Preprocessing_complete, JobStatus.Inferencing, JobStatus.Inferencing_complete,
             JobStatus.Postprocessing, JobStatus.Postprocessing_complete, JobStatus.Exit],
            job.History.Select(t => t.Status));
        Assert.Equal(["Inferencing", "Postprocessing", "Preprocessing", "longest", "queued", "total"], job.Timings.Keys.Order(StringComparer.Ordinal));
        Assert.All(job.Timings.Values, seconds => Assert.True(seconds >= 0));
        // Each stage's work is summed over the segments; segments overlap, so the sum need not fit in the total.
        Assert.True(job.Timings["total"] > 0);
        // The longest single request is one of the recorded durations (cut, a segment's stage, join), within the job's time.
        var record = await server.Jobs.GetAsync(id);
        var segments = await server.Jobs.GetSegmentsAsync(id);
        string[] requests =
        [
            record!.Fields[GEdge.Stages.JobStage.CutSecondsField], record.Fields[GEdge.Stages.JobStage.JoinSecondsField],
            .. segments.SelectMany(s => JobStateMachine.WorkingStatuses.Select(w => s.Fields[GEdge.Stages.JobStage.StageSecondsField(w)])),
        ];
        Assert.Equal(requests.Max(r => Math.Round(double.Parse(r, System.Globalization.CultureInfo.InvariantCulture), 3)), job.Timings["longest"]);
        Assert.True(job.Timings["longest"] <= job.Timings["total"]);
        Assert.NotNull(job.Segments);
        Assert.Equal(job.Segments.Total, job.Segments.List.Count);
        Assert.All(job.Segments.Done.Values, done => Assert.Equal(job.Segments.Total, done));
        Assert.All(job.Segments.List, s => Assert.Equal(JobStatus.Postprocessing_complete, s.Status));
        Assert.Equal(
            new Dictionary<string, string> { ["video"] = $"/api/jobs/{id}/video", ["detections"] = $"/api/jobs/{id}/detections", ["summary"] = $"/api/jobs/{id}/summary" },
            job.Results);

        // Where its time went: every segment done by every stage, once each, between the cut and the join.
        var timeline = (await alice.GetFromJsonAsync($"api/jobs/{id}/timeline", GatewayJsonContext.Default.JobTimeline))!;
        Assert.Equal([GEdge.Jobs.JobTimeline.Cut, GEdge.Jobs.JobTimeline.Join], timeline.Steps.Select(s => s.Name));
        Assert.Equal(PipelineTopology.Stages.Select(s => (s.Name, job.Segments.Total, job.Segments.Total, 0)), timeline.Stages.Select(s => (s.Stage, s.Segments, s.Attempts, s.Retries)));
        Assert.All(timeline.Attempts, a => Assert.Equal(GEdge.Jobs.AttemptOutcome.Done, a.Outcome));
        Assert.Equal(job.Segments.Total * PipelineTopology.Stages.Count, timeline.Attempts.Count);
        Assert.NotNull(timeline.Ended);

        // Warm-ups: the cut told Infer the job was coming, Infer's first segment told Postprocess, once each. Sent again,
        // late and twice, they change nothing.
        string[] warmed = [$"{id} warm-up: infer is ready", $"{id} warm-up: postprocess is ready"];
        Assert.Equal(warmed, await WarmUpLinesAsync(id, 2));
        var before = (await server.Jobs.GetAsync(id))!.ToRecord();
        foreach (var stage in new[] { PipelineTopology.Infer, PipelineTopology.Infer, PipelineTopology.Postprocess })
        {
            await server.Publisher.PublishAsync(GEdgeEvents.CreateStageWarmup(id, stage, new Uri("urn:gedge:test")));
        }

        Assert.Equal([warmed[0], warmed[0], warmed[0], warmed[1], warmed[1]], await WarmUpLinesAsync(id, 5));
        Assert.Equal(before, (await server.Jobs.GetAsync(id))!.ToRecord());

        var list = (await alice.GetFromJsonAsync("api/jobs", GatewayJsonContext.Default.JobList))!;
        Assert.Equal(id, JobsApiTests.Id(list.Jobs[0]));
        Assert.Equal("Exit", list.Jobs[0].Job[JobFields.Status]);

        // The video: whole, then a range, then a range past its end, then unchanged since the client's copy.
        var stored = await File.ReadAllBytesAsync(Path.Combine(server.Storage, "results", "alice", $"{id}", "annotated.mp4"));
        using var whole = await alice.GetAsync(job.Results["video"].TrimStart('/'));
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal("video/mp4", whole.Content.Headers.ContentType?.MediaType);
        Assert.Equal("bytes", Assert.Single(whole.Headers.AcceptRanges));
        Assert.Equal(stored, await whole.Content.ReadAsByteArrayAsync());
        var etag = whole.Headers.ETag!;
        Assert.NotNull(whole.Content.Headers.LastModified);

        using var rangeRequest = new HttpRequestMessage(HttpMethod.Get, job.Results["video"].TrimStart('/'));
        rangeRequest.Headers.Range = new RangeHeaderValue(1000, 1999);
        using var range = await alice.SendAsync(rangeRequest);
        Assert.Equal(HttpStatusCode.PartialContent, range.StatusCode);
        Assert.Equal((1000L, 1999L, (long)stored.Length), (range.Content.Headers.ContentRange!.From!.Value, range.Content.Headers.ContentRange.To!.Value, range.Content.Headers.ContentRange.Length!.Value));
        Assert.Equal(stored[1000..2000], await range.Content.ReadAsByteArrayAsync());

        using var tailRequest = new HttpRequestMessage(HttpMethod.Get, job.Results["video"].TrimStart('/'));
        tailRequest.Headers.Range = new RangeHeaderValue(stored.Length - 100, null);
        using var tail = await alice.SendAsync(tailRequest);
        Assert.Equal(HttpStatusCode.PartialContent, tail.StatusCode);
        Assert.Equal(stored[^100..], await tail.Content.ReadAsByteArrayAsync());

        using var pastRequest = new HttpRequestMessage(HttpMethod.Get, job.Results["video"].TrimStart('/'));
        pastRequest.Headers.Range = new RangeHeaderValue(stored.Length + 10, null);
        using var past = await alice.SendAsync(pastRequest);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, past.StatusCode);
        Assert.Equal(stored.Length, past.Content.Headers.ContentRange!.Length);

        using var conditional = new HttpRequestMessage(HttpMethod.Get, job.Results["video"].TrimStart('/'));
        conditional.Headers.IfNoneMatch.Add(etag);
        using var notModified = await alice.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        // The documents.
        using var detections = await alice.GetAsync(job.Results["detections"].TrimStart('/'));
        Assert.Equal("application/json", detections.Content.Headers.ContentType?.MediaType);
        using (var document = JsonDocument.Parse(await detections.Content.ReadAsStringAsync()))
        {
            Assert.Equal(id, document.RootElement.GetProperty("jobId").GetInt64());
            Assert.True(document.RootElement.GetProperty("frames").GetArrayLength() > 0);
        }

        using var summary = await alice.GetAsync(job.Results["summary"].TrimStart('/'));
        Assert.Equal("application/json", summary.Content.Headers.ContentType?.MediaType);
        using (var document = JsonDocument.Parse(await summary.Content.ReadAsStringAsync()))
        {
            Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        }

        // Someone else sees none of it.
        using var bob = server.ClientOf("bob");
        using var bobsLook = await bob.GetAsync(job.Results["video"].TrimStart('/'));
        Assert.Equal(HttpStatusCode.NotFound, bobsLook.StatusCode);

        // Deleted: the job, its upload and its results.
        Assert.Contains(server.StoredFiles(), f => f.StartsWith("uploads/alice/", StringComparison.Ordinal));
        using var delete = await alice.DeleteAsync($"api/jobs/{id}");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        foreach (var path in new[] { $"api/jobs/{id}", job.Results["video"].TrimStart('/'), job.Results["summary"].TrimStart('/') })
        {
            using var gone = await alice.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        Assert.DoesNotContain(server.StoredFiles(), f =>
            f.StartsWith("uploads/alice/", StringComparison.Ordinal) || f.StartsWith($"results/alice/{id}/", StringComparison.Ordinal) || f.StartsWith($"work/jobs/{id}/", StringComparison.Ordinal));
        Assert.DoesNotContain((await alice.GetFromJsonAsync("api/jobs", GatewayJsonContext.Default.JobList))!.Jobs, j => JobsApiTests.Id(j) == id);
    }

    [Fact]
    public async Task AVideo_ThatStartsRight_ButIsCutOff_EndsInExit_WithTheReason_AndNoResults()
    {
        using var response = await server.UploadAsync("carol", "cut.mp4", await Videos.HeadOfSampleAsync());

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = JobsApiTests.Id((await response.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView))!);
        using var carol = server.ClientOf("carol");
        var job = await PipelineGatewayServer.WaitForExitAsync(carol, id);
        Assert.StartsWith("Preprocessing failed: ", job.Job[JobFields.Error], StringComparison.Ordinal);
        Assert.Contains("cut.mp4", job.Job[JobFields.Error], StringComparison.Ordinal);
        // At once: input bad from the start is not retried, so no restart is counted.
        Assert.Equal("0", job.Job[JobFields.Iteration]);
        Assert.Equal([JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Exit], job.History.Select(t => t.Status));
        Assert.Empty(job.Results);
        using var video = await carol.GetAsync($"api/jobs/{id}/video");
        Assert.Equal(HttpStatusCode.Conflict, video.StatusCode);
        using var problem = JsonDocument.Parse(await video.Content.ReadAsStringAsync());
        Assert.Equal($"Job {id} failed: {job.Job[JobFields.Error]}", problem.RootElement.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task CancellingAJob_WhileAStageWorksOnIt_StopsThatStage_AndLeavesNoIntermediates()
    {
        using var dave = server.ClientOf("dave");
        await using var file = File.OpenRead(Videos.SamplePath);
        using var body = new StreamContent(file);
        using var created = await dave.PostAsync("api/jobs?name=road.mp4", body);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = JobsApiTests.Id((await created.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView))!);

        // Cancel as soon as a stage holds the job.
        JobStatus[] working = [JobStatus.Preprocessing, JobStatus.Inferencing, JobStatus.Postprocessing];
        using (var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
        {
            while ((await server.Jobs.GetAsync(id))!.Status is var status && !working.Contains(status))
            {
                Assert.NotEqual(JobStatus.Exit, status);
                await Task.Delay(10, deadline.Token);
            }
        }

        using var cancel = await dave.DeleteAsync($"api/jobs/{id}");

        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var history = (await server.Jobs.GetHistoryAsync(id)).Select(t => t.Status).ToList();
        Assert.Equal(JobStatus.Exit, history[^1]);
        var stopped = history[^2];
        Assert.Contains(stopped, working);
        // The stage finds out at its next lease renewal (every 0.2 s here), stops, and removes what it wrote meanwhile.
        var dropped = $"{id} left {stopped} while this stage worked on it";
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (!server.Logs.Collector.GetSnapshot().Any(e => e.Message.Contains(dropped, StringComparison.Ordinal)))
            {
                await Task.Delay(20, deadline.Token);
            }
        }

        // The stage removes what it wrote after it logs the drop, so the folders empty a moment later, not at once.
        bool OfTheJob(string f) => f.StartsWith($"work/jobs/{id}/", StringComparison.Ordinal) || f.StartsWith($"results/dave/{id}/", StringComparison.Ordinal);
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (server.StoredFiles().Any(OfTheJob) && !deadline.IsCancellationRequested)
            {
                await Task.Delay(20, CancellationToken.None);
            }
        }

        Assert.DoesNotContain(server.StoredFiles(), OfTheJob);
        var job = (await server.Jobs.GetAsync(id))!;
        Assert.Equal((JobStatus.Exit, JobEnding.CancelledReason), (job.Status, job.Error));
        Assert.Equal(history, (await server.Jobs.GetHistoryAsync(id)).Select(t => t.Status));
    }

    // The warm-up lines the stages logged for the job, sorted, once there are count of them (5 s at most: warm-ups are
    // sent without waiting).
    private async Task<List<string>> WarmUpLinesAsync(long id, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var lines = server.Logs.Collector.GetSnapshot().Select(r => r.Message).Where(m => m.StartsWith($"{id} warm-up: ", StringComparison.Ordinal)).ToList();
            if (lines.Count >= count || DateTime.UtcNow > deadline)
            {
                return [.. lines.Order(StringComparer.Ordinal)];
            }

            await Task.Delay(50);
        }
    }
}
