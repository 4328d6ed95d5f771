using GEdge.Contracts;
using GEdge.Jobs;
using GEdge.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;

namespace GEdge.Gateway;

/// <summary>
/// The one place where the API's failures become problem responses: a caller's mistake is a 4xx with the reason (a
/// parameter or body the endpoint could not even read included), a broker that refused a new job a 503 (the job is ended,
/// so a retry makes a new one), anything else a logged 500.
/// </summary>
internal sealed partial class ApiErrorFilter(ILogger<ApiErrorFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        try
        {
            var result = await next(context).ConfigureAwait(false);
            // A parameter that did not bind (a page size that is not a number, a body that is not JSON) reaches here as
            // an empty 400 from the request delegate; it is answered as every other mistake is.
            if (result is EmptyHttpResult && http.Response.StatusCode == StatusCodes.Status400BadRequest && !http.Response.HasStarted)
            {
                LogRefused(logger, http.Request.Path, StatusCodes.Status400BadRequest, "a parameter or the body could not be read");
                return GatewayProblems.Problem(
                    StatusCodes.Status400BadRequest, $"A parameter or the body could not be read as the endpoint takes it; see {GatewayOpenApi.Path}.");
            }

            return result;
        }
        catch (BadHttpRequestException e)
        {
            LogRefused(logger, http.Request.Path, e.StatusCode, e.Message);
            return GatewayProblems.Problem(e.StatusCode, e.Message);
        }
        catch (InvalidObjectKeyException e)
        {
            LogRefused(logger, http.Request.Path, StatusCodes.Status400BadRequest, e.Message);
            return GatewayProblems.Problem(StatusCodes.Status400BadRequest, e.Message, "Invalid name");
        }
        catch (JobNotAnnouncedException e)
        {
            LogNotAnnounced(logger, e, e.JobId);
            return GatewayProblems.Problem(StatusCodes.Status503ServiceUnavailable, e.Message, "The job could not be started");
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
            return GatewayProblems.Problem(StatusCodes.Status500InternalServerError, "The failure is logged.", "The request failed");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Path} with {StatusCode}: {Detail}")]
    private static partial void LogRefused(ILogger logger, PathString path, int statusCode, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "{JobId} was created but not announced to the broker; it is ended")]
    private static partial void LogNotAnnounced(ILogger logger, Exception exception, long jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string method, PathString path);
}
