using CloudNative.CloudEvents;
using GEdge.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;

namespace GEdge.Events.AspNetCore;

/// <summary>
/// The one table of how a failure to handle an event becomes an HTTP answer, shared by the endpoints mapped here and the
/// Azure Functions hosts. A sender's mistake (malformed event, invalid data, unsafe key) is a 4xx with the reason, which a
/// Knative Broker does not retry; anything else is a logged 500, which it does retry, as MinIO does.
/// </summary>
public static partial class EventFailures
{
    private static readonly object s_receivedEventKey = new();

    /// <summary>Notes the event being handled, so a failure is logged with its id.</summary>
    public static void NoteEvent(HttpContext context, CloudEvent cloudEvent)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Items[s_receivedEventKey] = cloudEvent;
    }

    /// <summary>
    /// The answer to <paramref name="exception"/>, thrown while handling the request of <paramref name="context"/>; logs
    /// it on <paramref name="logger"/>, as a warning when the sender is at fault and as an error otherwise.
    /// </summary>
    public static IResult ToResult(HttpContext context, Exception exception, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(logger);
        var path = context.Request.Path;
        switch (exception)
        {
            case MalformedCloudEventException e:
                LogRefused(logger, path, e.Reason.ToString(), e.Message);
                var status = e.Reason == MalformedCloudEventReason.BodyTooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest;
                return Problem(status, "Malformed CloudEvent", e.Message, e.Reason.ToString());
            case InvalidEventException e:
                LogRefused(logger, path, "InvalidEvent", e.Message);
                return Problem(StatusCodes.Status400BadRequest, "Invalid event", e.Message, "InvalidEvent");
            case InvalidObjectKeyException e:
                LogRefused(logger, path, "InvalidObjectKey", e.Message);
                return Problem(StatusCodes.Status400BadRequest, "Invalid object key", e.Message, "InvalidObjectKey");
            case BadHttpRequestException e:
                LogRefused(logger, path, "BadRequest", e.Message);
                return Problem(e.StatusCode, "Bad request", e.Message, "BadRequest");
            case OperationCanceledException when context.RequestAborted.IsCancellationRequested:
                // The sender hung up (a broker timeout); it will redeliver, and nobody is left to read a status.
                return Results.Empty;
            default:
                var eventId = (context.Items.TryGetValue(s_receivedEventKey, out var received) ? received as CloudEvent : null)?.Id;
                LogFailed(logger, exception, path, eventId);
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
