using System.Net.Mime;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Core;
using CloudNative.CloudEvents.Http;
using Microsoft.AspNetCore.Http;

namespace GEdge.Events.AspNetCore;

/// <summary>
/// Reads a CloudEvent from an ASP.NET Core request, per the CloudEvents HTTP protocol binding: binary mode (attributes
/// in percent-encoded <c>ce-</c> headers, <c>Content-Type</c> as <c>datacontenttype</c>, the body as data) or
/// structured mode (<c>application/cloudevents+json</c>). Batch mode is refused: G-Edge takes one event per request.
/// </summary>
public static class CloudEventHttpRequestExtensions
{
    /// <summary>The largest request body read. G-Edge events are a few hundred bytes; a larger body is not one of them.</summary>
    public const int MaxEventBytes = 64 * 1024;

    private const string StructuredJsonMediaType = "application/cloudevents+json";
    private static readonly string[] s_requiredAttributes = ["id", "source", "type"];

    /// <summary>
    /// Reads the request's CloudEvent, accepting only the types in <see cref="GEdgeEvents.Types"/>. Throws
    /// <see cref="MalformedCloudEventException"/> naming what is wrong.
    /// </summary>
    public static async Task<CloudEvent> ReadCloudEventAsync(
        this HttpRequest request,
        CloudEventFormatter formatter,
        IEnumerable<CloudEventAttribute> extensionAttributes,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(formatter);
        ArgumentNullException.ThrowIfNull(extensionAttributes);

        // The batch check comes first: the SDK's structured-mode test matches the batch media type too.
        if (MimeUtilities.IsCloudEventsBatchContentType(request.ContentType))
        {
            throw new MalformedCloudEventException(
                MalformedCloudEventReason.BatchMode,
                $"Batch mode ('{request.ContentType}') is not accepted: send one event per request.");
        }

        var body = await RequestBody.ReadAsync(request, MaxEventBytes, cancellationToken).ConfigureAwait(false)
            ?? throw new MalformedCloudEventException(
                MalformedCloudEventReason.BodyTooLarge,
                $"The body is larger than {MaxEventBytes} bytes; no G-Edge event is.");

        var cloudEvent = MimeUtilities.IsCloudEventsContentType(request.ContentType)
            ? DecodeStructured(body, request.ContentType!, formatter, extensionAttributes)
            : DecodeBinary(request, body, formatter, extensionAttributes);

        if (!GEdgeEvents.Types.Contains(cloudEvent.Type!))
        {
            throw new MalformedCloudEventException(
                MalformedCloudEventReason.UnknownEventType,
                $"The event type '{cloudEvent.Type}' is not one G-Edge handles ({string.Join(", ", GEdgeEvents.Types)}).");
        }

        return cloudEvent;
    }

    private static CloudEvent DecodeStructured(
        ReadOnlyMemory<byte> body, string contentTypeHeader, CloudEventFormatter formatter, IEnumerable<CloudEventAttribute> extensionAttributes)
    {
        var contentType = ParseContentType(contentTypeHeader);
        if (!string.Equals(contentType.MediaType, StructuredJsonMediaType, StringComparison.OrdinalIgnoreCase))
        {
            throw new MalformedCloudEventException(
                MalformedCloudEventReason.UnsupportedContentType,
                $"The structured format '{contentType.MediaType}' is not accepted; G-Edge speaks {StructuredJsonMediaType}.");
        }

        // The formatter reports every problem as one ArgumentException; checking the JSON first gives the sender the
        // precise reason (bad JSON, no specversion, which required attribute is missing).
        CheckStructuredJson(body.Span);

        try
        {
            return formatter.DecodeStructuredModeMessage(body, contentType, extensionAttributes);
        }
        catch (JsonException e)
        {
            throw new MalformedCloudEventException(MalformedCloudEventReason.InvalidJson, $"The body is not valid JSON: {e.Message}");
        }
        catch (ArgumentException e)
        {
            throw new MalformedCloudEventException(MalformedCloudEventReason.InvalidAttribute, $"The structured-mode event is not valid: {e.Message}");
        }
    }

    private static void CheckStructuredJson(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        JsonDocument document;
        try
        {
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw new MalformedCloudEventException(MalformedCloudEventReason.InvalidJson, $"The body is not valid JSON: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new MalformedCloudEventException(MalformedCloudEventReason.InvalidJson, $"A structured-mode event is a JSON object, not {root.ValueKind}.");
            }

            if (!root.TryGetProperty(CloudEventsSpecVersion.SpecVersionAttribute.Name, out var version) || version.ValueKind != JsonValueKind.String)
            {
                throw new MalformedCloudEventException(MalformedCloudEventReason.MissingSpecVersion, "The event has no 'specversion' string.");
            }

            if (CloudEventsSpecVersion.FromVersionId(version.GetString()) is null)
            {
                throw new MalformedCloudEventException(MalformedCloudEventReason.UnknownSpecVersion, $"The spec version '{version.GetString()}' is not supported.");
            }

            foreach (var name in s_requiredAttributes)
            {
                if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String || value.GetString()!.Length == 0)
                {
                    throw new MalformedCloudEventException(MalformedCloudEventReason.MissingAttribute, $"The event has no '{name}' attribute.");
                }
            }
        }
    }

    private static CloudEvent DecodeBinary(
        HttpRequest request, ReadOnlyMemory<byte> body, CloudEventFormatter formatter, IEnumerable<CloudEventAttribute> extensionAttributes)
    {
        var headers = request.Headers;
        if (!headers.TryGetValue(HttpUtilities.SpecVersionHttpHeader, out var versionHeader) || string.IsNullOrEmpty(versionHeader))
        {
            throw new MalformedCloudEventException(
                MalformedCloudEventReason.MissingSpecVersion,
                $"The request has no '{HttpUtilities.SpecVersionHttpHeader}' header (binary mode) and its Content-Type " +
                $"'{request.ContentType}' is not {StructuredJsonMediaType} (structured mode).");
        }

        var versionId = DecodeHeader(HttpUtilities.SpecVersionHttpHeader, versionHeader);
        var version = CloudEventsSpecVersion.FromVersionId(versionId)
            ?? throw new MalformedCloudEventException(MalformedCloudEventReason.UnknownSpecVersion, $"The spec version '{versionId}' is not supported.");

        var cloudEvent = new CloudEvent(version, extensionAttributes);
        foreach (var (headerName, headerValue) in headers)
        {
            var attributeName = HttpUtilities.GetAttributeNameFromHeaderName(headerName);
            if (attributeName is null || attributeName == CloudEventsSpecVersion.SpecVersionAttribute.Name)
            {
                continue;
            }

            var value = DecodeHeader(headerName, headerValue);
            try
            {
                cloudEvent.SetAttributeFromString(attributeName, value);
            }
            catch (ArgumentException e)
            {
                throw new MalformedCloudEventException(
                    MalformedCloudEventReason.InvalidAttribute,
                    $"The header '{headerName}' is not a valid '{attributeName}': {e.Message}");
            }
        }

        foreach (var name in s_requiredAttributes)
        {
            if (cloudEvent[name] is null)
            {
                throw new MalformedCloudEventException(MalformedCloudEventReason.MissingAttribute, $"The request has no 'ce-{name}' header.");
            }
        }

        // In binary mode the HTTP Content-Type is the event's datacontenttype (a ce-datacontenttype header is not used).
        if (request.ContentType is { } contentType)
        {
            ParseContentType(contentType);
            cloudEvent.DataContentType = contentType;
        }

        if (!body.IsEmpty)
        {
            try
            {
                formatter.DecodeBinaryModeEventData(body, cloudEvent);
            }
            catch (JsonException e)
            {
                throw new MalformedCloudEventException(MalformedCloudEventReason.InvalidJson, $"The event data is not valid JSON: {e.Message}");
            }
            catch (ArgumentException e)
            {
                throw new MalformedCloudEventException(MalformedCloudEventReason.InvalidAttribute, $"The event data cannot be read: {e.Message}");
            }
        }

        return cloudEvent;
    }

    private static string DecodeHeader(string headerName, Microsoft.Extensions.Primitives.StringValues values)
    {
        if (values.Count != 1)
        {
            throw new MalformedCloudEventException(MalformedCloudEventReason.InvalidAttribute, $"The header '{headerName}' appears {values.Count} times.");
        }

        try
        {
            return HttpUtilities.DecodeHeaderValue(values[0]!);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new MalformedCloudEventException(MalformedCloudEventReason.InvalidAttribute, $"The header '{headerName}' is not validly percent-encoded: {e.Message}");
        }
    }

    private static ContentType ParseContentType(string header)
    {
        try
        {
            return new ContentType(header);
        }
        catch (FormatException e)
        {
            throw new MalformedCloudEventException(MalformedCloudEventReason.UnsupportedContentType, $"The Content-Type '{header}' cannot be parsed: {e.Message}");
        }
    }
}
