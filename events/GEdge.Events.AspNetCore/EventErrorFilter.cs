using CloudNative.CloudEvents;
using GEdge.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;

namespace GEdge.Events.AspNetCore;

/// <summary>
/// The one place where an event endpoint's failures become status codes. A sender's mistake (malformed event, invalid
/// data, unsafe key) is a 4xx with the reason, which a Knative Broker does not retry; anything else is a logged 500,
/// which it does retry, as MinIO does.
/// </summary>
internal sealed partial class EventErrorFilter(ILogger<EventErrorFilter> logger) : IEndpointFilter
{
    private static readonly object s_receivedEventKey = new();

    /// <summary>Notes the event being handled, so a failure is logged with its id.</summary>
    public static void NoteEvent(HttpContext context, CloudEvent cloudEvent) => context.Items[s_receivedEventKey] = cloudEvent;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (MalformedCloudEventException e)
        {
            LogRefused(logger, http.Request.Path, e.Reason.ToString(), e.Message);
            var status = e.Reason == MalformedCloudEventReason.BodyTooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest;
            return Problem(status, "Malformed CloudEvent", e.Message, e.Reason.ToString());
        }
        catch (InvalidEventException e)
        {
            LogRefused(logger, http.Request.Path, "InvalidEvent", e.Message);
            return Problem(StatusCodes.Status400BadRequest, "Invalid event", e.Message, "InvalidEvent");
        }
        catch (InvalidObjectKeyException e)
        {
            LogRefused(logger, http.Request.Path, "InvalidObjectKey", e.Message);
            return Problem(StatusCodes.Status400BadRequest, "Invalid object key", e.Message, "InvalidObjectKey");
        }
        catch (BadHttpRequestException e)
        {
            LogRefused(logger, http.Request.Path, "BadRequest", e.Message);
            return Problem(e.StatusCode, "Bad request", e.Message, "BadRequest");
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The sender hung up (a broker timeout); it will redeliver, and nobody is left to read a status.
            return Results.Empty;
        }
#pragma warning disable CA1031 // Every other failure must become a 500 so the sender retries, whatever its type.
        catch (Exception e)
#pragma warning restore CA1031
        {
            var eventId = (http.Items.TryGetValue(s_receivedEventKey, out var received) ? received as CloudEvent : null)?.Id;
            LogFailed(logger, e, http.Request.Path, eventId);
            return Problem(StatusCodes.Status500InternalServerError, "The event could not be handled", "The failure is logged; deliver the event again.", "HandlerFailed");
        }
    }

    private static ProblemHttpResult Problem(int status, string title, string detail, string reason) =>
        TypedResults.Problem(detail, statusCode: status, title: title, extensions: new Dictionary<string, object?> { ["reason"] = reason });

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a request to {Path}: {Reason}: {Detail}")]
    private static partial void LogRefused(ILogger logger, PathString path, string reason, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling event {EventId} posted to {Path} failed; answering 500 so it is delivered again")]
    private static partial void LogFailed(ILogger logger, Exception exception, PathString path, string? eventId);
}
