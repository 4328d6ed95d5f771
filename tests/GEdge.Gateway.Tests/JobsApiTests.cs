using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.Gateway;
using GEdge.JobTable;
using GEdge.Jobs;

namespace GEdge.Gateway.Tests;

/// <summary>The jobs API with jobs that wait in Enqueue: submitting, listing, ownership, cancelling and deleting.</summary>
public sealed class JobsApiTests(GatewayServer server) : IClassFixture<GatewayServer>
{
    [Fact]
    public async Task Submit_TheBodyItself_Answers201WithTheJob_ItsLocation_AndAnnouncesIt()
    {
        using var response = await server.UploadAsync("alice", "clip.mp4", await Videos.HeadOfSampleAsync());

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var job = (await response.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView))!;
        var id = Id(job);
        Assert.Equal($"/api/jobs/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal(("alice", "mp4", "Enqueue", "0"), (job.Job[JobFields.User], job.Job[JobFields.Type], job.Job[JobFields.Status], job.Job[JobFields.Iteration]));
        Assert.Matches("^uploads/alice/[0-9T]+-[0-9a-f]{8}/clip.mp4$", job.Job[JobFields.Path]);
        Assert.Equal([JobStatus.Enqueue], job.History.Select(t => t.Status));
        Assert.Empty(job.Results);
        Assert.Empty(job.Timings);
        Assert.Contains(server.Announced, e => e.Type == GEdgeEvents.JobStatusChangedType && GEdgeEvents.ReadJobStatusChanged(e).JobId == id);
        // Enums are written as their names.
        var raw = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"status\":\"Enqueue\"", raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThePipeline_NeedsNoKey_AndIsTheTopologyTheStatesAndStagesAreDerivedFrom()
    {
        using var client = server.ClientWith(null);

        using var response = await client.GetAsync("api/pipeline");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Exactly what the dashboard's logic test takes as the gateway's answer (tests/browser/dashboard-logic.test.mjs).
        Assert.Equal(
            """{"statuses":["Enqueue","Preprocessing","Preprocessing_complete","Inferencing","Inferencing_complete","Postprocessing","Postprocessing_complete","Exit"]""" +
            ""","stages":[{"name":"preprocess","consumes":"Enqueue","working":"Preprocessing","completes":"Preprocessing_complete"},""" +
            """{"name":"infer","consumes":"Preprocessing_complete","working":"Inferencing","completes":"Inferencing_complete"},""" +
            """{"name":"postprocess","consumes":"Inferencing_complete","working":"Postprocessing","completes":"Postprocessing_complete"}]}""",
            await response.Content.ReadAsStringAsync());
        Assert.Equal(Enum.GetNames<JobStatus>(), PipelineView.Current.Statuses.Select(status => status.ToString()));
    }

    [Fact]
    public async Task Submit_AMultipartForm_TakesItsFirstFilePart()
    {
        using var client = server.ClientOf("alice");
        using var form = new MultipartFormDataContent
        {
            { new StringContent("a note before the file"), "comment" },
            { new ByteArrayContent(await Videos.HeadOfSampleAsync()), "video", "holiday.mov" },
        };

        using var response = await client.PostAsync("api/jobs", form);

        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var job = (await response.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView))!;
        Assert.Equal("mov", job.Job[JobFields.Type]);
        Assert.EndsWith("/holiday.mov", job.Job[JobFields.Path], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_AMultipartFormWithTwoFiles_Is400_AndKeepsNeither()
    {
        using var client = server.ClientOf("alice");
        var before = (await server.Jobs.ListByUserAsync("alice", 0, 100)).Total;
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(await Videos.HeadOfSampleAsync()), "video", "first.mp4" },
            { new StringContent("a note between"), "comment" },
            { new ByteArrayContent(await Videos.HeadOfSampleAsync()), "video", "second.mp4" },
        };

        using var response = await client.PostAsync("api/jobs", form);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("more than one file; send one video per upload", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(before, (await server.Jobs.ListByUserAsync("alice", 0, 100)).Total);
        Assert.DoesNotContain(server.StoredFiles(), path => path.EndsWith("/first.mp4", StringComparison.Ordinal) || path.EndsWith("/second.mp4", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnotherUsersJob_IsAnswered404OnEveryEndpoint_AsAJobThatDoesNotExist()
    {
        var job = await server.SubmitAsync("bob");
        var id = Id(job);
        using var alice = server.ClientOf("alice");

        foreach (var (method, path) in new[]
        {
            ("GET", $"api/jobs/{id}"), ("GET", $"api/jobs/{id}/video"), ("GET", $"api/jobs/{id}/detections"),
            ("GET", $"api/jobs/{id}/summary"), ("GET", $"api/jobs/{id}/timeline"), ("DELETE", $"api/jobs/{id}"),
        })
        {
            using var theirs = await alice.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
            using var none = await alice.SendAsync(new HttpRequestMessage(new HttpMethod(method), path.Replace($"/{id}", "/999999", StringComparison.Ordinal)));

            Assert.Equal(HttpStatusCode.NotFound, theirs.StatusCode);
            Assert.Equal("application/problem+json", theirs.Content.HeaderContentType());
            Assert.Equal(await ProblemTitleAsync(none), await ProblemTitleAsync(theirs));
            Assert.Equal("No such job", await ProblemTitleAsync(theirs));
        }

        var list = (await alice.GetFromJsonAsync("api/jobs?limit=100", GatewayJsonContext.Default.JobList))!;
        Assert.DoesNotContain(list.Jobs, j => Id(j) == id);
        // The job is untouched, and still bob's.
        Assert.Equal(JobStatus.Enqueue, (await server.Jobs.GetAsync(id))!.Status);
    }

    [Fact]
    public async Task Results_OfAJobThatHasNotEnded_Answer409_WithItsStatus()
    {
        var id = Id(await server.SubmitAsync("carol"));
        using var carol = server.ClientOf("carol");

        foreach (var result in JobResults.Names)
        {
            using var response = await carol.GetAsync($"api/jobs/{id}/{result}");

            Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal($"Job {id} is in Enqueue; its results exist once it is in Exit.", problem.RootElement.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task List_PagesTheCallersJobs_NewestFirst_WithALinkToTheNextPage()
    {
        var ids = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(Id(await server.SubmitAsync("erin", $"clip{i}.mp4")));
        }

        using var erin = server.ClientOf("erin");

        var first = (await erin.GetFromJsonAsync("api/jobs?limit=2", GatewayJsonContext.Default.JobList))!;
        var second = (await erin.GetFromJsonAsync(first.Next!.TrimStart('/'), GatewayJsonContext.Default.JobList))!;
        var whole = (await erin.GetFromJsonAsync("api/jobs", GatewayJsonContext.Default.JobList))!;

        Assert.Equal((3L, 0, 2, "/api/jobs?offset=2&limit=2"), (first.Total, first.Offset, first.Limit, first.Next));
        Assert.Equal([ids[2], ids[1]], first.Jobs.Select(Id));
        Assert.Equal((3L, 2, 2, (string?)null), (second.Total, second.Offset, second.Limit, second.Next));
        Assert.Equal([ids[0]], second.Jobs.Select(Id));
        Assert.Equal((0, JobsApi.DefaultPageSize), (whole.Offset, whole.Limit));
        Assert.Equal([ids[2], ids[1], ids[0]], whole.Jobs.Select(Id));
        Assert.All(whole.Jobs, j => Assert.Equal([JobStatus.Enqueue], j.History.Select(t => t.Status)));
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=101")]
    [InlineData("offset=-1")]
    [InlineData("limit=ten")]
    public async Task List_WithAPageItCannotGive_Answers400Problem(string query)
    {
        using var client = server.ClientOf("erin");

        using var response = await client.GetAsync($"api/jobs?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.HeaderContentType());
    }

    [Fact]
    public async Task Delete_OfAJobThatHasNotEnded_CancelsIt_AndRemovesItsIntermediates_ThenASecondDeleteRemovesIt()
    {
        var job = await server.SubmitAsync("frank");
        var id = Id(job);
        var work = $"jobs/{id}/frames.json";
        await server.Store.WriteAsync(server.Buckets.Work, work, (stream, ct) => stream.WriteAsync("{}"u8.ToArray(), ct).AsTask());
        using var frank = server.ClientOf("frank");

        using var cancel = await frank.DeleteAsync($"api/jobs/{id}");

        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var cancelled = (await cancel.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView))!;
        Assert.Equal(("Exit", JobEnding.CancelledReason), (cancelled.Job[JobFields.Status], cancelled.Job[JobFields.Error]));
        Assert.Equal([JobStatus.Enqueue, JobStatus.Exit], cancelled.History.Select(t => t.Status));
        Assert.Empty(cancelled.Results);
        Assert.Null(await server.Store.StatAsync(server.Buckets.Work, work));
        Assert.NotNull(await server.Store.StatAsync("uploads", job.Job[JobFields.Path]["uploads/".Length..]));

        using var delete = await frank.DeleteAsync($"api/jobs/{id}");

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var gone = await frank.GetAsync($"api/jobs/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Null(await server.Jobs.GetAsync(id));
        Assert.Empty(await server.Jobs.GetHistoryAsync(id));
        Assert.DoesNotContain(server.StoredFiles(), f => f.StartsWith("uploads/frank/", StringComparison.Ordinal));
        Assert.Equal(0, (await frank.GetFromJsonAsync("api/jobs", GatewayJsonContext.Default.JobList))!.Total);
    }

    [Fact]
    public async Task SegmentDetections_AreReadableOnceInferred_BeforeTheJobEnds_NumberedFromTheVideosFirstFrame()
    {
        var id = Id(await server.SubmitAsync("grace"));
        using var grace = server.ClientOf("grace");
        var artifacts = new JobArtifacts(server.Buckets, "grace", id);
        Assert.True(await server.Jobs.TryClaimAsync(id, JobStatus.Preprocessing));
        Assert.True(await server.Jobs.SplitAsync(id, [0, 10]));
        await MoveSegmentAsync(id, 0, JobStatus.Inferencing_complete, frames: 3);
        await WriteDetectionsAsync(artifacts.Segment(0), 3);
        await MoveSegmentAsync(id, 1, JobStatus.Preprocessing_complete, frames: 2);

        using (var first = await grace.GetAsync($"api/jobs/{id}/segments/0/detections"))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(JobsApi.SegmentDetectionsContentType, first.Content.HeaderContentType());
            Assert.Equal([0, 1, 2], IndexesOf(await first.Content.ReadAsStringAsync()));
        }

        using (var notYet = await grace.GetAsync($"api/jobs/{id}/segments/1/detections"))
        {
            Assert.Equal(HttpStatusCode.Conflict, notYet.StatusCode);
        }

        using (var none = await grace.GetAsync($"api/jobs/{id}/segments/2/detections"))
        {
            Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        }

        await MoveSegmentAsync(id, 1, JobStatus.Inferencing_complete, frames: null);
        await WriteDetectionsAsync(artifacts.Segment(1), 2);
        using (var second = await grace.GetAsync($"api/jobs/{id}/segments/1/detections"))
        {
            Assert.Equal([3, 4], IndexesOf(await second.Content.ReadAsStringAsync()));
        }

        var view = (await grace.GetFromJsonAsync($"api/jobs/{id}", GatewayJsonContext.Default.JobView))!;
        Assert.Equal((2, 2, 2, 0), (view.Segments!.Total, view.Segments.Done["Preprocessing"], view.Segments.Done["Inferencing"], view.Segments.Done["Postprocessing"]));
        using var otherUser = server.ClientOf("heidi");
        Assert.Equal(HttpStatusCode.NotFound, (await otherUser.GetAsync($"api/jobs/{id}/segments/0/detections")).StatusCode);
    }

    private async Task MoveSegmentAsync(long id, int segment, JobStatus to, int? frames)
    {
        foreach (var stage in PipelineTopology.Stages.Where(s => s.Completes <= to))
        {
            if ((await server.Jobs.GetSegmentsAsync(id))[segment].Status >= stage.Completes)
            {
                continue;
            }

            Assert.True((await server.Jobs.TryClaimSegmentAsync(id, segment, stage.Working, "test/1")).Moved);
            var fields = stage == PipelineTopology.Preprocess && frames is { } count
                ? new Dictionary<string, string> { ["frames"] = count.ToString(CultureInfo.InvariantCulture) }
                : null;
            Assert.True((await server.Jobs.TryCompleteSegmentAsync(id, segment, stage.Working, "test/1", fields)).Moved);
        }
    }

    private async Task WriteDetectionsAsync(SegmentArtifacts segment, int frames)
    {
        var lines = string.Concat(Enumerable.Range(0, frames).Select(i =>
            $"{{\"index\":{i},\"time\":{i * 0.04:0.00},\"detections\":[]}}\n"));
        await server.Store.WriteAsync(server.Buckets.Work, segment.FrameDetectionsKey, (stream, ct) => stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(lines), ct).AsTask());
    }

    private static List<int> IndexesOf(string ndjson) =>
        [.. ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("index").GetInt32())];

    internal static long Id(JobView job) => long.Parse(job.Job[JobFields.Id], CultureInfo.InvariantCulture);

    private static async Task<string?> ProblemTitleAsync(HttpResponseMessage response)
    {
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return problem.RootElement.GetProperty("title").GetString();
    }
}

internal static class ContentExtensions
{
    public static string? HeaderContentType(this HttpContent content) => content.Headers.ContentType?.MediaType;
}
