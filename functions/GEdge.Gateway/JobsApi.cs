using System.Globalization;
using GEdge.JobTable;
using GEdge.Stages;
using GEdge.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.Options;

namespace GEdge.Gateway;

/// <summary>
/// The jobs API: submit a video, read a job, read its results. Its endpoints form one route group, so what comes later
/// (API keys, paging, OpenAPI) is added to the group once; each handler is a few lines over the domain's services.
/// </summary>
public static class JobsApi
{
    /// <summary>Where the API lives.</summary>
    public const string Prefix = "/api/jobs";

    private static readonly FileExtensionContentTypeProvider s_contentTypes = new();

    /// <summary>
    /// Maps <c>POST /api/jobs</c> (an upload, streamed to storage; answers 201 with the job),
    /// <c>GET /api/jobs/{id}</c> (the job and its history) and <c>GET /api/jobs/{id}/{file}</c> (a result, streamed).
    /// </summary>
    public static RouteGroupBuilder MapJobsApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var jobs = endpoints.MapGroup(Prefix).WithTags("Jobs");
        jobs.AddEndpointFilter<JobsApiErrorFilter>();
        jobs.MapPost(string.Empty, SubmitAsync).WithName("SubmitJob");
        jobs.MapGet("/{id:long}", GetAsync).WithName("GetJob");
        jobs.MapGet("/{id:long}/{file}", GetResultAsync).WithName("GetJobResult");
        return jobs;
    }

    private static async Task<Created<JobView>> SubmitAsync(
        HttpContext context, JobSubmissions submissions, JobTable.JobTable jobs, IOptions<GatewayOptions> options, CancellationToken cancellationToken)
    {
        var user = GatewayCaller.UserOf(context);
        var submission = await VideoUpload.SubmitAsync(context, user, submissions, options.Value.MaxUploadBytes, cancellationToken).ConfigureAwait(false);
        var path = JobPath(submission.Job.Id);
        var history = await jobs.GetHistoryAsync(submission.Job.Id).ConfigureAwait(false);
        return TypedResults.Created(path, JobView.Of(submission.Job, history, path));
    }

    private static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetAsync(long id, HttpContext context, JobTable.JobTable jobs)
    {
        var job = await FindAsync(id, GatewayCaller.UserOf(context), jobs).ConfigureAwait(false);
        if (job is null)
        {
            return NoSuchJob(id);
        }

        var history = await jobs.GetHistoryAsync(id).ConfigureAwait(false);
        return TypedResults.Ok(JobView.Of(job, history, JobPath(id)));
    }

    private static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetResultAsync(
        long id, string file, HttpContext context, JobTable.JobTable jobs, IObjectStore store, IOptions<BucketOptions> buckets, CancellationToken cancellationToken)
    {
        if (!JobArtifacts.ResultFiles.Contains(file, StringComparer.Ordinal))
        {
            return JobsApiErrorFilter.Problem(StatusCodes.Status404NotFound, "No such result", $"A job's results are {string.Join(", ", JobArtifacts.ResultFiles)}.");
        }

        var job = await FindAsync(id, GatewayCaller.UserOf(context), jobs).ConfigureAwait(false);
        if (job is null)
        {
            return NoSuchJob(id);
        }

        if (!JobView.HasResults(job))
        {
            var detail = job.Error is { } error
                ? string.Create(CultureInfo.InvariantCulture, $"Job {id} failed: {error}")
                : string.Create(CultureInfo.InvariantCulture, $"Job {id} is in {job.Status}; its results exist once it is in Exit.");
            return JobsApiErrorFilter.Problem(StatusCodes.Status409Conflict, "No results yet", detail);
        }

        Stream content;
        try
        {
            content = await store.OpenReadAsync(buckets.Value.Results, new JobArtifacts(buckets.Value, job.User, id).ResultKey(file), cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException)
        {
            return JobsApiErrorFilter.Problem(StatusCodes.Status404NotFound, "Result removed", $"Job {id}'s {file} is no longer stored.");
        }

        return TypedResults.Stream(content, s_contentTypes.TryGetContentType(file, out var type) ? type : "application/octet-stream");
    }

    // Someone else's job is answered exactly as a job that does not exist, so ids reveal nothing.
    private static async Task<Job?> FindAsync(long id, string user, JobTable.JobTable jobs)
    {
        if (id < 1)
        {
            return null;
        }

        var job = await jobs.GetAsync(id).ConfigureAwait(false);
        return job is not null && job.User == user ? job : null;
    }

    private static ProblemHttpResult NoSuchJob(long id) =>
        JobsApiErrorFilter.Problem(StatusCodes.Status404NotFound, "No such job", string.Create(CultureInfo.InvariantCulture, $"You have no job {id}."));

    private static string JobPath(long id) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}/{id}");
}
