using GEdge.Stages;
using GEdge.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;

namespace GEdge.Gateway;

/// <summary>
/// The one place where the jobs API's failures become problem responses: a caller's mistake is a 4xx with the reason,
/// a broker that refused a new job a 503 (the job is ended, so a retry makes a new one), anything else a logged 500.
/// </summary>
internal sealed partial class JobsApiErrorFilter(ILogger<JobsApiErrorFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            LogRefused(logger, http.Request.Path, e.StatusCode, e.Message);
            return Problem(e.StatusCode, "Bad request", e.Message);
        }
        catch (InvalidObjectKeyException e)
        {
            LogRefused(logger, http.Request.Path, StatusCodes.Status400BadRequest, e.Message);
            return Problem(StatusCodes.Status400BadRequest, "Invalid name", e.Message);
        }
        catch (JobNotAnnouncedException e)
        {
            LogNotAnnounced(logger, e, e.JobId);
            return Problem(StatusCodes.Status503ServiceUnavailable, "The job could not be started", e.Message);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client hung up mid-upload; the partial object was discarded and nobody is left to answer.
            return Results.Empty;
        }
#pragma warning disable CA1031 // Every other failure must become a logged 500, whatever its type.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogFailed(logger, e, http.Request.Method, http.Request.Path);
            return Problem(StatusCodes.Status500InternalServerError, "The request failed", "The failure is logged.");
        }
    }

    internal static ProblemHttpResult Problem(int status, string title, string detail) =>
        TypedResults.Problem(detail, statusCode: status, title: title);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Path} with {StatusCode}: {Detail}")]
    private static partial void LogRefused(ILogger logger, PathString path, int statusCode, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "{JobId} was created but not announced to the broker; it is ended")]
    private static partial void LogNotAnnounced(ILogger logger, Exception exception, long jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string method, PathString path);
}
