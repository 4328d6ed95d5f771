using System.Globalization;
using System.Security.Claims;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace GEdge.Gateway;

/// <summary>
/// The jobs API: submit a video, list and read the caller's jobs, read a finished job's results, cancel or delete a
/// job. One route group, so authentication and error handling are added once; each handler is a few lines over the
/// domain's services. Every job belongs to the user who sent it: another user's job is answered as one that does not
/// exist (404, never 403), so ids reveal nothing.
/// </summary>
public static class JobsApi
{
    /// <summary>Where the API lives.</summary>
    public const string Prefix = "/api/jobs";

    /// <summary>The page size when none is asked for.</summary>
    public const int DefaultPageSize = 20;

    /// <summary>The largest page the list returns.</summary>
    public const int MaxPageSize = 100;

    /// <summary>
    /// Maps <c>POST /api/jobs</c>, <c>GET /api/jobs</c>, <c>GET /api/jobs/{id}</c>, <c>GET /api/jobs/{id}/video</c> (with
    /// range requests), <c>/detections</c>, <c>/summary</c>, <c>/timeline</c>, a segment's detections and <c>DELETE /api/jobs/{id}</c>, all
    /// behind the API key policy.
    /// </summary>
    public static RouteGroupBuilder MapJobsApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var jobs = endpoints.MapGroup(Prefix).WithTags("Jobs")
            .RequireAuthorization(ApiKeyAuthentication.Policy)
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        jobs.AddEndpointFilter<ApiErrorFilter>();
        jobs.MapPost(string.Empty, SubmitAsync).WithName("SubmitJob")
            .AddEndpointFilter<UploadRefusalFilter>()
            .WithSummary("Uploads a video (the body itself with ?name=clip.mp4, or multipart/form-data) and starts its job.")
            .WithMetadata(DescribedRequestBody.VideoUpload)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        jobs.MapGet(string.Empty, ListAsync).WithName("ListJobs")
            .WithSummary("The caller's jobs, newest first, a page at a time.")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        jobs.MapGet("/{id:long}", GetAsync).WithName("GetJob")
            .WithSummary("One job: its record, its history, its timings and its results' paths.");
        jobs.MapGet("/{id:long}/video", GetVideoAsync).WithName("GetJobVideo")
            .WithSummary("The annotated MP4, with range requests (206, 416) so a player can seek.")
            .Produces<Stream>(StatusCodes.Status200OK, JobResults.ContentTypeOf(JobResults.Video))
            .Produces<Stream>(StatusCodes.Status206PartialContent, JobResults.ContentTypeOf(JobResults.Video))
            .Produces(StatusCodes.Status416RangeNotSatisfiable)
            .ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapGet("/{id:long}/detections", GetDetectionsAsync).WithName("GetJobDetections")
            .WithSummary("Every frame's detections (detections.json).")
            .Produces<Stream>(StatusCodes.Status200OK, JobResults.ContentTypeOf(JobResults.Detections))
            .ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapGet("/{id:long}/summary", GetSummaryAsync).WithName("GetJobSummary")
            .WithSummary("Per-class counts, stage timings and the job record (summary.json).")
            .Produces<Stream>(StatusCodes.Status200OK, JobResults.ContentTypeOf(JobResults.Summary))
            .ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapGet("/{id:long}/timeline", GetTimelineAsync).WithName("GetJobTimeline")
            .WithSummary("Where the job's time went: each stage's attempts at each segment (ready, claimed, ended, how, by which process), the cut and the join, and a breakdown per stage.")
            .WithDescription(
                "Read from the job table's own history, so it is there from the upload on and fills in as the job goes. An attempt "
                + "that failed, was taken back by the sweeper or given back by a stopping process is Failed, and the segment's next "
                + "attempt at that stage follows it; the time from Ready to Started is the segment's wait for the stage.");
        jobs.MapGet("/{id:long}/segments/{segment:int}/detections", GetSegmentDetectionsAsync).WithName("GetSegmentDetections")
            .WithSummary("Results as they come: one segment's detections, once Infer has done it and before the job ends.")
            .WithDescription(
                "One JSON line per frame of the segment (application/x-ndjson), each frame numbered from the video's first, as in "
                + "detections.json. Available from when the segment is Inferencing_complete (see the job's segments) until the job "
                + "ends; then read /detections. 409 while the segment, or a segment before it, has not got that far.")
            .Produces<Stream>(StatusCodes.Status200OK, SegmentDetectionsContentType)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapDelete("/{id:long}", DeleteAsync).WithName("DeleteJob")
            .WithSummary("Cancels a job that has not ended (200 with the job), or deletes an ended one and its objects (204).")
            .ProducesProblem(StatusCodes.Status409Conflict);
        return jobs;
    }

    private static async Task<Created<JobView>> SubmitAsync(
        [FromQuery] string? name,
        ClaimsPrincipal caller,
        HttpContext context,
        JobSubmissions submissions,
        JobTable.JobTable jobs,
        IOptions<GatewayOptions> options,
        CancellationToken cancellationToken)
    {
        var user = ApiKeyAuthentication.UserOf(caller);
        var submission = await VideoUpload.SubmitAsync(context, user, name, submissions, options.Value.MaxUploadBytes, cancellationToken).ConfigureAwait(false);
        var path = JobPath(submission.Job.Id);
        var history = await jobs.GetHistoryAsync(submission.Job.Id).ConfigureAwait(false);
        return TypedResults.Created(path, JobView.Of(submission.Job, history, await jobs.GetSegmentsAsync(submission.Job.Id).ConfigureAwait(false), path));
    }

    private static async Task<Results<Ok<JobList>, ProblemHttpResult>> ListAsync(
        ClaimsPrincipal caller, JobTable.JobTable jobs, int offset = 0, int limit = DefaultPageSize)
    {
        if (offset < 0 || limit is < 1 or > MaxPageSize)
        {
            return GatewayProblems.Problem(
                StatusCodes.Status400BadRequest,
                string.Create(CultureInfo.InvariantCulture, $"offset must be 0 or more and limit 1 to {MaxPageSize}, not offset={offset}, limit={limit}."));
        }

        var page = await jobs.ListByUserAsync(ApiKeyAuthentication.UserOf(caller), offset, limit).ConfigureAwait(false);
        // The histories and segments are read together, so a page costs two round trips, not one per job.
        var histories = Task.WhenAll(page.Jobs.Select(job => jobs.GetHistoryAsync(job.Id)));
        var segments = Task.WhenAll(page.Jobs.Select(job => jobs.GetSegmentsAsync(job.Id)));
        await Task.WhenAll(histories, segments).ConfigureAwait(false);
        var views = page.Jobs.Select((job, i) => JobView.Of(job, histories.Result[i], segments.Result[i], JobPath(job.Id))).ToList();
        var next = page.HasMore ? string.Create(CultureInfo.InvariantCulture, $"{Prefix}?offset={offset + limit}&limit={limit}") : null;
        return TypedResults.Ok(new JobList(views, page.Total, offset, limit, next));
    }

    private static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetAsync(long id, ClaimsPrincipal caller, JobTable.JobTable jobs)
    {
        if (await FindAsync(id, caller, jobs).ConfigureAwait(false) is not { } job)
        {
            return GatewayProblems.NoSuchJob(id);
        }

        var history = await jobs.GetHistoryAsync(id).ConfigureAwait(false);
        return TypedResults.Ok(JobView.Of(job, history, await jobs.GetSegmentsAsync(id).ConfigureAwait(false), JobPath(id)));
    }

    private static async Task<Results<Ok<JobTimeline>, ProblemHttpResult>> GetTimelineAsync(long id, ClaimsPrincipal caller, JobTable.JobTable jobs)
    {
        if (await FindAsync(id, caller, jobs).ConfigureAwait(false) is not { } job)
        {
            return GatewayProblems.NoSuchJob(id);
        }

        var history = await jobs.GetHistoryAsync(id).ConfigureAwait(false);
        return TypedResults.Ok(JobTimeline.Of(job, history, await jobs.GetSegmentHistoryAsync(id).ConfigureAwait(false)));
    }

    private static Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetVideoAsync(
        long id, ClaimsPrincipal caller, JobTable.JobTable jobs, IObjectStore store, IOptions<BucketOptions> buckets, CancellationToken cancellationToken) =>
        GetResultAsync(id, JobResults.Video, caller, jobs, store, buckets.Value, cancellationToken);

    private static Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetDetectionsAsync(
        long id, ClaimsPrincipal caller, JobTable.JobTable jobs, IObjectStore store, IOptions<BucketOptions> buckets, CancellationToken cancellationToken) =>
        GetResultAsync(id, JobResults.Detections, caller, jobs, store, buckets.Value, cancellationToken);

    private static Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetSummaryAsync(
        long id, ClaimsPrincipal caller, JobTable.JobTable jobs, IObjectStore store, IOptions<BucketOptions> buckets, CancellationToken cancellationToken) =>
        GetResultAsync(id, JobResults.Summary, caller, jobs, store, buckets.Value, cancellationToken);

    // Every result is served the same way: a seekable stream of known length, so ASP.NET Core's range processing answers
    // Range (206), If-Range and unsatisfiable ranges (416), and conditional requests by ETag and Last-Modified (304).
    private static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetResultAsync(
        long id, string name, ClaimsPrincipal caller, JobTable.JobTable jobs, IObjectStore store, BucketOptions buckets, CancellationToken cancellationToken)
    {
        if (await FindAsync(id, caller, jobs).ConfigureAwait(false) is not { } job)
        {
            return GatewayProblems.NoSuchJob(id);
        }

        if (!JobView.HasResults(job))
        {
            var detail = job.Error is { } error
                ? string.Create(CultureInfo.InvariantCulture, $"Job {id} failed: {error}")
                : string.Create(CultureInfo.InvariantCulture, $"Job {id} is in {job.Status}; its results exist once it is in Exit.");
            return GatewayProblems.Problem(StatusCodes.Status409Conflict, detail, "No results yet");
        }

        var key = new JobArtifacts(buckets, job.User, id).ResultKey(JobResults.FileOf(name));
        if (await store.OpenSeekableAsync(buckets.Results, key, cancellationToken).ConfigureAwait(false) is not { } content)
        {
            return GatewayProblems.Problem(StatusCodes.Status404NotFound, $"Job {id}'s {name} is no longer stored.", "Result removed");
        }

        return TypedResults.File(
            content,
            JobResults.ContentTypeOf(name),
            lastModified: content.Info.LastModified,
            entityTag: content.Info.ETag.Length > 0 ? new EntityTagHeaderValue($"\"{content.Info.ETag}\"") : null,
            enableRangeProcessing: true);
    }

    private static readonly byte[] s_newLine = "\n"u8.ToArray();

    /// <summary>The media type of a segment's detections: a JSON document per line.</summary>
    public const string SegmentDetectionsContentType = "application/x-ndjson";

    private static async Task<Results<PushStreamHttpResult, ProblemHttpResult>> GetSegmentDetectionsAsync(
        long id, int segment, ClaimsPrincipal caller, JobTable.JobTable jobs, IObjectStore store, IOptions<BucketOptions> buckets)
    {
        if (await FindAsync(id, caller, jobs).ConfigureAwait(false) is not { } job)
        {
            return GatewayProblems.NoSuchJob(id);
        }

        var segments = await jobs.GetSegmentsAsync(id).ConfigureAwait(false);
        if (segment < 0 || segment >= segments.Count)
        {
            return GatewayProblems.Problem(
                StatusCodes.Status404NotFound,
                string.Create(CultureInfo.InvariantCulture, $"Job {id} has no segment {segment} (it has {segments.Count})."),
                "No such segment");
        }

        if (job.Status == GEdge.Contracts.JobStatus.Exit)
        {
            return GatewayProblems.Problem(
                StatusCodes.Status409Conflict,
                string.Create(CultureInfo.InvariantCulture, $"Job {id} has ended: its segments' detections are in {JobPath(id)}/detections."),
                "Job ended");
        }

        if (segments[segment].Status < GEdge.Contracts.JobStatus.Inferencing_complete)
        {
            return GatewayProblems.Problem(
                StatusCodes.Status409Conflict,
                string.Create(CultureInfo.InvariantCulture, $"Segment {segment} of job {id} is in {segments[segment].Status}; its detections exist once it is Inferencing_complete."),
                "Not inferred yet");
        }

        // Frames are numbered from the video's first: every earlier segment's frame count is needed, and each is known
        // once that segment is preprocessed.
        var first = 0;
        foreach (var earlier in segments.Take(segment))
        {
            if (SegmentFields.FramesOf(earlier.Fields) is not { } frames)
            {
                return GatewayProblems.Problem(
                    StatusCodes.Status409Conflict,
                    string.Create(CultureInfo.InvariantCulture, $"Segment {earlier.Index} of job {id} is in {earlier.Status}: until it is preprocessed, the frames after it cannot be numbered."),
                    "Not inferred yet");
            }

            first += frames;
        }

        var artifacts = new JobArtifacts(buckets.Value, job.User, id).Segment(segment);
        return TypedResults.Stream(
            async body =>
            {
                await foreach (var frame in GEdge.Artifacts.FrameArtifacts.ReadDetectionsAsync(store, artifacts, CancellationToken.None).ConfigureAwait(false))
                {
                    await System.Text.Json.JsonSerializer.SerializeAsync(body, frame with { Index = first + frame.Index }, GEdge.Artifacts.PipelineJsonContext.Default.FrameDetections).ConfigureAwait(false);
                    await body.WriteAsync(s_newLine).ConfigureAwait(false);
                }
            },
            SegmentDetectionsContentType);
    }

    private static async Task<Results<Ok<JobView>, NoContent, ProblemHttpResult>> DeleteAsync(
        long id, ClaimsPrincipal caller, JobTable.JobTable jobs, JobRemoval removal, CancellationToken cancellationToken)
    {
        if (await FindAsync(id, caller, jobs).ConfigureAwait(false) is not { } job)
        {
            return GatewayProblems.NoSuchJob(id);
        }

        switch (await removal.RemoveAsync(job, cancellationToken).ConfigureAwait(false))
        {
            case JobRemovalResult.Deleted:
                return TypedResults.NoContent();
            case JobRemovalResult.Cancelled:
                var cancelled = await jobs.GetAsync(id).ConfigureAwait(false) ?? job;
                return TypedResults.Ok(JobView.Of(cancelled, await jobs.GetHistoryAsync(id).ConfigureAwait(false), await jobs.GetSegmentsAsync(id).ConfigureAwait(false), JobPath(id)));
            default:
                return GatewayProblems.Problem(
                    StatusCodes.Status409Conflict,
                    string.Create(CultureInfo.InvariantCulture, $"Job {id} ended before it could be cancelled; DELETE it again to delete it and its results."),
                    "Already ended");
        }
    }

    private static async Task<Job?> FindAsync(long id, ClaimsPrincipal caller, JobTable.JobTable jobs)
    {
        if (id < 1)
        {
            return null;
        }

        var job = await jobs.GetAsync(id).ConfigureAwait(false);
        return job is not null && job.User == ApiKeyAuthentication.UserOf(caller) ? job : null;
    }

    private static string JobPath(long id) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}/{id}");
}
