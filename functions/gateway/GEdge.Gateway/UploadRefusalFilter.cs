using GEdge.Contracts;
using GEdge.Jobs;
using GEdge.Metrics;
using Microsoft.AspNetCore.Http;

namespace GEdge.Gateway;

/// <summary>
/// Counts the uploads the jobs API refuses, by reason (<see cref="UploadRefusal"/>), on the upload endpoint only; the
/// failure goes on to <see cref="ApiErrorFilter"/>, which answers it. An accepted upload is counted where every upload
/// becomes a job, whichever way it came (<see cref="JobIntake"/>). A request without a valid API key never reaches an
/// endpoint, so it is not counted here.
/// </summary>
internal sealed class UploadRefusalFilter(GEdgeMetrics metrics) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            var result = await next(context).ConfigureAwait(false);
            // A parameter that did not bind reaches here as an empty 400 (see ApiErrorFilter).
            if (context.HttpContext.Response.StatusCode == StatusCodes.Status400BadRequest && result is Microsoft.AspNetCore.Http.HttpResults.EmptyHttpResult)
            {
                metrics.UploadRefused(UploadRefusal.Malformed);
            }

            return result;
        }
        catch (Exception e)
        {
            metrics.UploadRefused(ReasonOf(e, context.HttpContext.RequestAborted));
            throw;
        }
    }

    private static string ReasonOf(Exception failure, CancellationToken requestAborted) => failure switch
    {
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => UploadRefusal.TooLarge,
        BadHttpRequestException { StatusCode: StatusCodes.Status415UnsupportedMediaType } => UploadRefusal.NotAVideo,
        BadHttpRequestException => UploadRefusal.Malformed,
        InvalidObjectKeyException => UploadRefusal.InvalidName,
        JobNotAnnouncedException => UploadRefusal.NotStarted,
        OperationCanceledException when requestAborted.IsCancellationRequested => UploadRefusal.Aborted,
        _ => UploadRefusal.Failed,
    };
}
