using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Events.AspNetCore;

/// <summary>
/// Handles a MinIO webhook notification: checks the bearer token, maps each record (<see cref="MinioNotifications"/>),
/// hands every new video to the intake as a <c>video uploaded</c> event, and publishes the intake's reply (the job's
/// Enqueue event) to the broker, since a reply to MinIO would go nowhere. It answers MinIO only after all that, so a
/// failure (500) makes MinIO deliver again, and the intake's idempotency makes the retry harmless.
/// </summary>
public sealed partial class MinioNotificationHandler(
    IOptionsMonitor<MinioWebhookOptions> options,
    IEventPublisher publisher,
    ILogger<MinioNotificationHandler> logger)
{
    /// <summary>The largest notification read. One record is a few KiB (user metadata included); MinIO sends one per request.</summary>
    public const int MaxNotificationBytes = 256 * 1024;

    /// <summary>
    /// Answers one notification: 401 without the configured bearer token, 204 once every new video in it has been handed
    /// to <paramref name="intake"/> and the replies published. Failures throw, for <see cref="EventFailures"/> to map.
    /// </summary>
    public async Task<IResult> HandleAsync(HttpContext context, IEventSubscriber intake, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(intake);
        var settings = options.CurrentValue;
        if (!IsAuthorized(context.Request, settings.AuthToken))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return TypedResults.Unauthorized();
        }

        var body = await RequestBody.ReadAsync(context.Request, MaxNotificationBytes, cancellationToken).ConfigureAwait(false)
            ?? throw new BadHttpRequestException($"The notification is larger than {MaxNotificationBytes} bytes.", StatusCodes.Status413PayloadTooLarge);
        var notification = MinioNotifications.Parse(body.Span);

        // Map every record before handling any, so a notification with one bad record starts nothing.
        var uploads = new List<VideoUploaded>(notification.Records.Count);
        foreach (var record in notification.Records)
        {
            var mapping = MinioNotifications.Map(record, settings.UploadsBucket);
            if (mapping.Upload is { } upload)
            {
                uploads.Add(upload);
            }
            else
            {
                LogIgnored(logger, record.EventName, record.S3.Bucket.Name, record.S3.StoredObject.Key, mapping.IgnoredBecause!);
            }
        }

        foreach (var upload in uploads)
        {
            var uploaded = GEdgeEvents.CreateVideoUploaded(upload, settings.EventSource);
            EventFailures.NoteEvent(context, uploaded);
            LogUploaded(logger, upload.Bucket, upload.Key, upload.User, uploaded.Id);
            var reply = await intake.HandleAsync(uploaded, cancellationToken).ConfigureAwait(false);
            if (reply is not null)
            {
                await publisher.PublishAsync(reply, cancellationToken).ConfigureAwait(false);
            }
        }

        return TypedResults.NoContent();
    }

    private bool IsAuthorized(HttpRequest request, string? expected)
    {
        if (string.IsNullOrEmpty(expected))
        {
            LogNoTokenConfigured(logger, MinioWebhookOptions.SectionName);
            return false;
        }

        if (BearerToken.Of(request) is not { } presented)
        {
            LogUnauthorized(logger, request.HttpContext.Connection.RemoteIpAddress?.ToString(), "no bearer token");
            return false;
        }

        if (!BearerToken.Matches(presented, expected))
        {
            LogUnauthorized(logger, request.HttpContext.Connection.RemoteIpAddress?.ToString(), "a wrong bearer token");
            return false;
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Bucket}/{Key} uploaded by {User}: event {EventId} to the intake")]
    private static partial void LogUploaded(ILogger logger, string bucket, string key, string user, string? eventId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ignored {EventName} for {Bucket}/{Key}: {Reason}")]
    private static partial void LogIgnored(ILogger logger, string eventName, string bucket, string key, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a MinIO notification from {RemoteAddress}: {Problem}")]
    private static partial void LogUnauthorized(ILogger logger, string? remoteAddress, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a MinIO notification: no token is configured ({Section}:AuthToken)")]
    private static partial void LogNoTokenConfigured(ILogger logger, string section);
}
