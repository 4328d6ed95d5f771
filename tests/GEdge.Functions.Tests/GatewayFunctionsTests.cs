using System.Text.Json;
using CloudNative.CloudEvents;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace GEdge.Functions.Tests;

/// <summary>
/// The gateway's functions on the real job table: uploads (a <c>video uploaded</c> event, or MinIO's notification) become
/// jobs, and a dead letter is recorded on its job.
/// </summary>
[Collection(OneGarnetServer.Name)]
public sealed class GatewayFunctionsTests(GarnetFixture garnet) : IAsyncDisposable
{
    private readonly GatewayHost _gateway = new(garnet);

    public ValueTask DisposeAsync() => _gateway.DisposeAsync();

    [Fact]
    public async Task AVideoUploadedEvent_MakesAJob_AndTheReplyIsTheJobsEnqueueEvent()
    {
        var uploaded = GEdgeEvents.CreateVideoUploaded(new VideoUploaded("alice", "uploads", "alice/2025/clip.MP4", "etag-1", 1234), FunctionCalls.Source);
        var http = await FunctionCalls.EventRequestAsync(uploaded, ContentMode.Binary);

        await FunctionCalls.ExecuteAsync(await _gateway.Functions.IntakeAsync(http.Request, CancellationToken.None), http);

        var job = Assert.Single((await _gateway.Jobs.ListByUserAsync("alice", 0, 10)).Jobs);
        Assert.Equal("uploads/alice/2025/clip.MP4", job.Path);
        Assert.Equal("mp4", job.Type);
        Assert.Equal(JobStatus.Enqueue, job.Status);
        Assert.Equal(StatusCodes.Status200OK, http.Response.StatusCode);
        Assert.Equal("Enqueue", FunctionCalls.Header(http, "ce-jobstatus"));
        Assert.Equal($"job-{job.Id}-Enqueue-0", FunctionCalls.Header(http, "ce-id"));
        Assert.Equal(new JobStatusChanged(job.Id, JobStatus.Enqueue), GEdgeEvents.ReadJobStatusChanged(await FunctionCalls.ReplyAsync(http)));
    }

    [Fact]
    public async Task AnUploadOutsideTheUsersFolder_Gets400_AndMakesNoJob()
    {
        var uploaded = GEdgeEvents.CreateVideoUploaded(new VideoUploaded("alice", "uploads", "bob/clip.mp4", "etag-1", 1234), FunctionCalls.Source);
        var http = await FunctionCalls.EventRequestAsync(uploaded, ContentMode.Structured);

        await IntegrationPipeline.InvokeAsync(http, () => _gateway.Functions.IntakeAsync(http.Request, CancellationToken.None), _gateway.Logs);

        Assert.Equal(StatusCodes.Status400BadRequest, http.Response.StatusCode);
        Assert.Equal(
            "The object 'bob/clip.mp4' is not under user 'alice''s prefix.",
            JsonDocument.Parse(FunctionCalls.ResponseText(http)).RootElement.GetProperty("detail").GetString());
        Assert.Equal(0, (await _gateway.Jobs.ListByUserAsync("alice", 0, 10)).Total);
    }

    [Fact]
    public async Task AMinioNotification_MakesAJob_AndPublishesItsEnqueueEvent()
    {
        var http = MinioRequest("Bearer " + GatewayHost.WebhookToken);

        await FunctionCalls.ExecuteAsync(await _gateway.Functions.MinioNotificationsAsync(http.Request, CancellationToken.None), http);

        Assert.Equal(StatusCodes.Status204NoContent, http.Response.StatusCode);
        var job = Assert.Single((await _gateway.Jobs.ListByUserAsync("alice", 0, 10)).Jobs);
        Assert.Equal("uploads/alice/clip one.mp4", job.Path);
        var published = Assert.Single(_gateway.Broker.Published);
        Assert.Equal($"job-{job.Id}-Enqueue-0", published.Id);
        Assert.Equal("Enqueue", published[GEdgeEvents.JobStatusAttribute]);
    }

    [Fact]
    public async Task AMinioNotification_WithAWrongToken_Gets401_AndMakesNoJob()
    {
        var http = MinioRequest("Bearer not-the-secret");

        await FunctionCalls.ExecuteAsync(await _gateway.Functions.MinioNotificationsAsync(http.Request, CancellationToken.None), http);

        Assert.Equal(StatusCodes.Status401Unauthorized, http.Response.StatusCode);
        Assert.Equal("Bearer", FunctionCalls.Header(http, "WWW-Authenticate"));
        Assert.Equal(0, (await _gateway.Jobs.ListByUserAsync("alice", 0, 10)).Total);
        Assert.Empty(_gateway.Broker.Published);
    }

    [Fact]
    public async Task ADeadLetteredStatusEvent_EndsTheJobThatWaitsForIt_WithTheDeliveryFailureAsItsError()
    {
        var id = await JobInAsync(JobStatus.Preprocessing_complete);
        await _gateway.Store.WriteAsync("work", $"jobs/{id}/frames/000000.raw", (stream, ct) => stream.WriteAsync(new byte[16], ct).AsTask());
        var deadLetter = DeadLetter(id, JobStatus.Preprocessing_complete, code: "503", data: Convert.ToBase64String("upstream connect error\nor disconnect"u8));
        var http = await FunctionCalls.EventRequestAsync(deadLetter, ContentMode.Binary, _gateway.Logs);

        await FunctionCalls.ExecuteAsync(await _gateway.Functions.DeadLetterAsync(http.Request, CancellationToken.None), http);

        Assert.Equal(StatusCodes.Status202Accepted, http.Response.StatusCode);
        var job = (await _gateway.Jobs.GetAsync(id))!;
        Assert.Equal(JobStatus.Exit, job.Status);
        Assert.Equal(
            "The Preprocessing_complete event could not be delivered: delivery to http://infer.gedge.svc.cluster.local failed with HTTP 503: upstream connect error or disconnect",
            job.Error);
        Assert.Empty(await ToListAsync(_gateway.Store.ListAsync("work", $"jobs/{id}/")));
        var exit = Assert.Single(_gateway.Broker.Published);
        Assert.Equal(new JobStatusChanged(id, JobStatus.Exit), GEdgeEvents.ReadJobStatusChanged(exit));
        Assert.Contains(_gateway.Logs.Collector.GetSnapshot(), e => e.Level == LogLevel.Error && e.Message.StartsWith($"{id} moved to Exit", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ADeadLetter_ForAJobClaimedUnderALapsedLease_FailsTheAttempt_AndAnnouncesTheJobAgain()
    {
        var id = await JobInAsync(JobStatus.Preprocessing_complete);
        Assert.True(await _gateway.Jobs.TryClaimAsync(id, JobStatus.Inferencing, TimeSpan.FromMinutes(2)));
        _gateway.Clock.Advance(TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(1));
        var http = await FunctionCalls.EventRequestAsync(DeadLetter(id, JobStatus.Preprocessing_complete, code: "504"), ContentMode.Binary);

        await FunctionCalls.ExecuteAsync(await _gateway.Functions.DeadLetterAsync(http.Request, CancellationToken.None), http);

        Assert.Equal(StatusCodes.Status202Accepted, http.Response.StatusCode);
        var job = (await _gateway.Jobs.GetAsync(id))!;
        Assert.Equal(JobStatus.Preprocessing_complete, job.Status);
        Assert.Equal(1, job.Iteration);
        Assert.Equal("The Preprocessing_complete event could not be delivered: delivery to http://infer.gedge.svc.cluster.local failed with HTTP 504", job.LastError);
        var announced = Assert.Single(_gateway.Broker.Published);
        Assert.Equal($"job-{id}-Preprocessing_complete-1", announced.Id);
        Assert.Equal("Preprocessing_complete", announced[GEdgeEvents.JobStatusAttribute]);
    }

    [Fact]
    public async Task ADeadLetter_ForAJobAStageStillHoldsUnderItsLease_LeavesTheJobToThatStage()
    {
        var id = await JobInAsync(JobStatus.Preprocessing_complete);
        Assert.True(await _gateway.Jobs.TryClaimAsync(id, JobStatus.Inferencing, TimeSpan.FromMinutes(2)));
        _gateway.Clock.Advance(TimeSpan.FromMinutes(1));
        var before = await _gateway.Jobs.GetAsync(id);
        var http = await FunctionCalls.EventRequestAsync(DeadLetter(id, JobStatus.Preprocessing_complete, code: "504"), ContentMode.Binary);

        await FunctionCalls.ExecuteAsync(await _gateway.Functions.DeadLetterAsync(http.Request, CancellationToken.None), http);

        Assert.Equal(StatusCodes.Status202Accepted, http.Response.StatusCode);
        Assert.Equal(before!.ToRecord(), (await _gateway.Jobs.GetAsync(id))!.ToRecord());
        Assert.Empty(_gateway.Broker.Published);
    }

    [Fact]
    public async Task ALateDeadLetter_ForAJobThatHasMovedOn_ChangesNothing()
    {
        var id = await JobInAsync(JobStatus.Inferencing_complete);
        var before = await _gateway.Jobs.GetAsync(id);
        var http = await FunctionCalls.EventRequestAsync(DeadLetter(id, JobStatus.Preprocessing_complete, code: "500"), ContentMode.Structured);

        await FunctionCalls.ExecuteAsync(await _gateway.Functions.DeadLetterAsync(http.Request, CancellationToken.None), http);

        Assert.Equal(StatusCodes.Status202Accepted, http.Response.StatusCode);
        Assert.Equal(before!.ToRecord(), (await _gateway.Jobs.GetAsync(id))!.ToRecord());
        Assert.Empty(_gateway.Broker.Published);
    }

    [Fact]
    public async Task ADeadLetteredUpload_IsAccepted_AndLoggedAsAnUploadThatNeverBecameAJob()
    {
        var uploaded = GEdgeEvents.CreateVideoUploaded(new VideoUploaded("alice", "uploads", "alice/clip.mp4", "etag-1", 1234), FunctionCalls.Source);
        uploaded.SetAttributeFromString("knativeerrordest", "http://gateway.gedge.svc.cluster.local");
        uploaded.SetAttributeFromString("knativeerrorcode", "500");
        var http = await FunctionCalls.EventRequestAsync(uploaded, ContentMode.Binary, _gateway.Logs);

        await FunctionCalls.ExecuteAsync(await _gateway.Functions.DeadLetterAsync(http.Request, CancellationToken.None), http);

        Assert.Equal(StatusCodes.Status202Accepted, http.Response.StatusCode);
        Assert.Contains(
            _gateway.Logs.Collector.GetSnapshot(),
            e => e.Level == LogLevel.Error
                && e.Message == "uploads/alice/clip.mp4 uploaded by alice never became a job: delivery to http://gateway.gedge.svc.cluster.local failed with HTTP 500");
        Assert.Equal(0, (await _gateway.Jobs.ListByUserAsync("alice", 0, 10)).Total);
    }

    [Fact]
    public async Task ASweep_TakesBackAJobWhoseLeaseRanOut_AndAnnouncesItAgain_ButLeavesALiveOneAlone()
    {
        var stuck = await JobInAsync(JobStatus.Preprocessing_complete);
        Assert.True(await _gateway.Jobs.TryClaimAsync(stuck, JobStatus.Inferencing, TimeSpan.FromMinutes(2)));
        _gateway.Clock.Advance(TimeSpan.FromMinutes(1));
        var live = await JobInAsync(JobStatus.Inferencing_complete);
        Assert.True(await _gateway.Jobs.TryClaimAsync(live, JobStatus.Postprocessing, TimeSpan.FromMinutes(2)));
        _gateway.Clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        var http = new DefaultHttpContext { RequestServices = _gateway.Services };

        var answer = await _gateway.Functions.SweepAsync(http.Request, CancellationToken.None);

        Assert.Equal(new SweepResult(1), Assert.IsType<OkObjectResult>(answer).Value);
        var job = (await _gateway.Jobs.GetAsync(stuck))!;
        Assert.Equal((JobStatus.Preprocessing_complete, 1), (job.Status, job.Iteration));
        Assert.StartsWith("Inferencing stopped: its lease ran out at ", job.LastError, StringComparison.Ordinal);
        var announced = Assert.Single(_gateway.Broker.Published);
        Assert.Equal($"job-{stuck}-Preprocessing_complete-1", announced.Id);
        Assert.Equal(JobStatus.Postprocessing, (await _gateway.Jobs.GetAsync(live))!.Status);
    }

    [Fact]
    public async Task ASweep_AtTheIterationLimit_EndsTheJobInExit_WithTheReason()
    {
        var id = await JobInAsync(JobStatus.Enqueue);
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            Assert.True(await _gateway.Jobs.TryClaimAsync(id, JobStatus.Preprocessing, TimeSpan.FromMinutes(2)));
            _gateway.Clock.Advance(TimeSpan.FromMinutes(3));
            await _gateway.Functions.SweepAsync(new DefaultHttpContext { RequestServices = _gateway.Services }.Request, CancellationToken.None);
        }

        var job = (await _gateway.Jobs.GetAsync(id))!;
        Assert.Equal((JobStatus.Exit, 3), (job.Status, job.Iteration));
        Assert.StartsWith("Preprocessing stopped: its lease ran out", job.Error, StringComparison.Ordinal);
        Assert.Equal(
            [$"job-{id}-Enqueue-1", $"job-{id}-Enqueue-2", $"job-{id}-Exit-3"],
            _gateway.Broker.Published.Select(e => e.Id));
    }

    [Fact]
    public async Task ASweep_AnnouncesAgainASegmentThatWaitedTooLongForItsNextStage_AndAJobWaitingForItsJoin_AndLeavesRecentOnesAlone()
    {
        var lost = await CutJobAsync(JobStatus.Preprocessing_complete);
        var finished = await CutJobAsync(JobStatus.Postprocessing_complete);
        _gateway.Clock.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        var recent = await JobInAsync(JobStatus.Enqueue);

        var answer = await _gateway.Functions.SweepAsync(new DefaultHttpContext { RequestServices = _gateway.Services }.Request, CancellationToken.None);

        Assert.Equal(new SweepResult(2), Assert.IsType<OkObjectResult>(answer).Value);
        Assert.Equal(
            [$"job-{lost}-segment-0-Preprocessing_complete-0", $"job-{finished}-Postprocessing_complete-0"],
            _gateway.Broker.Published.Select(e => e.Id).Order(StringComparer.Ordinal));
        Assert.Equal((JobStatus.Preprocessing_complete, 0), ((await _gateway.Jobs.GetAsync(lost))!.Status, (await _gateway.Jobs.GetAsync(lost))!.Iteration));
        // The join is the last stage's to do: the sweep only announces it again.
        Assert.Equal(JobStatus.Postprocessing_complete, (await _gateway.Jobs.GetAsync(finished))!.Status);
        Assert.Equal(JobStatus.Enqueue, (await _gateway.Jobs.GetAsync(recent))!.Status);
    }

    [Fact]
    public async Task ASweep_RemovesAnUploadThatNeverBecameAJob_WithItsUnfinishedWrite_ButLeavesOnesStillArriving_AndJobsUploads()
    {
        // A submission notes its upload before the first byte; one whose process died before making the job stays noted.
        var submissions = _gateway.Services.GetRequiredService<JobSubmissions>();
        var submitted = await submissions.SubmitAsync("alice", "kept.mp4", (stream, ct) => stream.WriteAsync(new byte[] { 1, 2, 3 }, ct).AsTask(), CancellationToken.None);
        Assert.Empty(await _gateway.Jobs.ListUploadsUnderwayAsync(DateTimeOffset.MaxValue, 10));

        const string Abandoned = "alice/20250601T120000-dead0001/clip.mp4";
        await _gateway.Jobs.BeginUploadAsync("uploads", Abandoned);
        await _gateway.Store.WriteAsync("uploads", Abandoned, (stream, ct) => stream.WriteAsync(new byte[] { 1, 2, 3 }, ct).AsTask());
        const string Unfinished = "alice/20250601T120000-dead0002/clip.mp4";
        await _gateway.Jobs.BeginUploadAsync("uploads", Unfinished);
        var partial = Path.Combine(_gateway.StorageRoot, "uploads", "alice", "20250601T120000-dead0002", "clip.mp4.0123abcd.partial");
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        await File.WriteAllBytesAsync(partial, [1, 2]);
        // One whose job was made, but whose note was not cleared (the job table failed just then): its object is the job's.
        var made = await submissions.SubmitAsync("alice", "made.mp4", (stream, ct) => stream.WriteAsync(new byte[] { 4, 5, 6 }, ct).AsTask(), CancellationToken.None);
        await _gateway.Jobs.BeginUploadAsync(made.Bucket, made.Key);
        _gateway.Clock.Advance(TimeSpan.FromHours(6) + TimeSpan.FromSeconds(1));
        const string Arriving = "alice/20250601T180001-live0003/clip.mp4";
        await _gateway.Jobs.BeginUploadAsync("uploads", Arriving);

        var answer = await _gateway.Functions.SweepAsync(new DefaultHttpContext { RequestServices = _gateway.Services }.Request, CancellationToken.None);

        // The two abandoned uploads, and the two submitted jobs, announced again after six hours in Enqueue.
        Assert.Equal(new SweepResult(4), Assert.IsType<OkObjectResult>(answer).Value);
        Assert.Null(await _gateway.Store.StatAsync("uploads", Abandoned));
        Assert.False(File.Exists(partial));
        Assert.Equal([("uploads", Arriving)], await _gateway.Jobs.ListUploadsUnderwayAsync(DateTimeOffset.MaxValue, 10));
        // The uploads that became jobs are the jobs', and stay.
        Assert.NotNull(await _gateway.Store.StatAsync(submitted.Bucket, submitted.Key));
        Assert.NotNull(await _gateway.Store.StatAsync(made.Bucket, made.Key));
        Assert.Contains(_gateway.Logs.Collector.GetSnapshot(), e => e.Message.StartsWith($"The upload uploads/{Abandoned} did not become a job within", StringComparison.Ordinal));
    }

    // A new job cut into one segment, moved the way the stages move it until the segment is in `status`.
    private async Task<long> CutJobAsync(JobStatus status)
    {
        var id = await JobInAsync(JobStatus.Enqueue);
        Assert.True(await _gateway.Jobs.TryClaimAsync(id, JobStatus.Preprocessing));
        Assert.True(await _gateway.Jobs.SplitAsync(id, [0]));
        foreach (var stage in GEdge.Contracts.PipelineTopology.Stages.TakeWhile(stage => stage.Consumes < status))
        {
            Assert.True((await _gateway.Jobs.TryClaimSegmentAsync(id, 0, stage.Working, "test/1")).Moved);
            Assert.True((await _gateway.Jobs.TryCompleteSegmentAsync(id, 0, stage.Working, "test/1")).Moved);
        }

        Assert.Equal(status, (await _gateway.Jobs.GetSegmentsAsync(id))[0].Status);
        return id;
    }

    private static CloudEvent DeadLetter(long jobId, JobStatus status, string code, string? data = null)
    {
        // What a Knative Broker sends its dead-letter sink: the undelivered event, with the error extensions added.
        var cloudEvent = GEdgeEvents.CreateJobStatusChanged(jobId, status, 0, FunctionCalls.Source);
        cloudEvent.SetAttributeFromString("knativeerrordest", "http://infer.gedge.svc.cluster.local");
        cloudEvent.SetAttributeFromString("knativeerrorcode", code);
        if (data is not null)
        {
            cloudEvent.SetAttributeFromString("knativeerrordata", data);
        }

        return cloudEvent;
    }

    // A new job moved along the pipeline, the way the stages move it, up to `status`.
    private async Task<long> JobInAsync(JobStatus status)
    {
        var creation = await _gateway.Jobs.CreateAsync(new NewJob("alice", "uploads/alice/clip.mp4", "mp4", Guid.NewGuid().ToString("N")));
        var id = creation.Job.Id;
        for (var current = JobStatus.Enqueue; current != status; current++)
        {
            Assert.True(await _gateway.Jobs.TryTransitionAsync(id, current, current + 1));
        }

        return id;
    }

    private static HttpContext MinioRequest(string authorization)
    {
        // The documented shape of MinIO's s3:ObjectCreated:Put notification, with the key URL-encoded as MinIO sends it.
        const string Body = """
            {"EventName":"s3:ObjectCreated:Put","Key":"uploads/alice%2Fclip+one.mp4","Records":[{"eventVersion":"2.0","eventSource":"minio:s3",
            "awsRegion":"","eventTime":"2025-02-06T01:04:31.998Z","eventName":"s3:ObjectCreated:Put","userIdentity":{"principalId":"access_key"},
            "s3":{"s3SchemaVersion":"1.0","configurationId":"Config","bucket":{"name":"uploads","ownerIdentity":{"principalId":"access_key"},
            "arn":"arn:aws:s3:::uploads"},"object":{"key":"alice%2Fclip+one.mp4","size":84452,"eTag":"eb52f8e46f60a27a8a1a704e25757f30",
            "contentType":"video/mp4","userMetadata":{"content-type":"video/mp4"},"sequencer":"182178E8B3728CAC"}},
            "source":{"host":"192.168.1.10","port":"","userAgent":"MinIO (linux; amd64) minio-go/v7.0.83"}}]}
            """;
        return FunctionCalls.RawRequest(Body, "application/json", new Dictionary<string, string> { ["Authorization"] = authorization });
    }

    private static async Task<List<ObjectInfo>> ToListAsync(IAsyncEnumerable<ObjectInfo> objects)
    {
        var list = new List<ObjectInfo>();
        await foreach (var item in objects)
            list.Add(item);
        return list;
    }
}
