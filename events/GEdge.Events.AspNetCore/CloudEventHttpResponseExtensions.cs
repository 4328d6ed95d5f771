using System.Net.Mime;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using Microsoft.AspNetCore.Http;

namespace GEdge.Events.AspNetCore;

/// <summary>
/// Writes a CloudEvent as an ASP.NET Core response, per the CloudEvents HTTP protocol binding. A Knative Broker takes a
/// subscriber's reply in either mode; G-Edge replies in binary mode, so the attributes a Trigger filters on
/// (<c>type</c>, <c>jobstatus</c>) are plain headers.
/// </summary>
public static class CloudEventHttpResponseExtensions
{
    /// <summary>
    /// Writes <paramref name="cloudEvent"/> as the response body and headers in <paramref name="contentMode"/>. The status
    /// code is left as it is (200 unless the caller set another).
    /// </summary>
    public static async Task WriteCloudEventAsync(
        this HttpResponse response,
        CloudEvent cloudEvent,
        ContentMode contentMode,
        CloudEventFormatter formatter,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(cloudEvent);
        ArgumentNullException.ThrowIfNull(formatter);
        if (!cloudEvent.IsValid)
        {
            throw new ArgumentException($"The reply event '{cloudEvent.Id}' lacks a required attribute (id, source, type).", nameof(cloudEvent));
        }

        ReadOnlyMemory<byte> content;
        ContentType? contentType;
        switch (contentMode)
        {
            case ContentMode.Structured:
                content = formatter.EncodeStructuredModeMessage(cloudEvent, out var structuredType);
                contentType = structuredType;
                break;
            case ContentMode.Binary:
                content = formatter.EncodeBinaryModeEventData(cloudEvent);
                contentType = cloudEvent.DataContentType is { } dataContentType ? new ContentType(dataContentType) : null;
                // Every attribute but datacontenttype (which is the Content-Type) becomes a percent-encoded ce- header.
                response.Headers[HttpUtilities.SpecVersionHttpHeader] = HttpUtilities.EncodeHeaderValue(cloudEvent.SpecVersion.VersionId);
                foreach (var (attribute, value) in cloudEvent.GetPopulatedAttributes())
                {
                    if (attribute != cloudEvent.SpecVersion.DataContentTypeAttribute)
                    {
                        response.Headers[HttpUtilities.HttpHeaderPrefix + attribute.Name] = HttpUtilities.EncodeHeaderValue(attribute.Format(value));
                    }
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(contentMode), contentMode, "Only structured and binary modes exist.");
        }

        if (contentType is not null)
        {
            response.ContentType = contentType.ToString();
        }
        else if (!content.IsEmpty)
        {
            throw new ArgumentException($"The reply event '{cloudEvent.Id}' has data but no 'datacontenttype'.", nameof(cloudEvent));
        }

        response.ContentLength = content.Length;
        await response.Body.WriteAsync(content, cancellationToken).ConfigureAwait(false);
    }
}
