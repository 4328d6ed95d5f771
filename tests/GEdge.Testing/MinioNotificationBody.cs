using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace GEdge.Testing;

/// <summary>
/// Builds webhook bodies shaped as MinIO sends them (the documented <c>s3:ObjectCreated:Put</c> example, with the
/// fields G-Edge ignores kept in), for a key given exactly as it appears in the record (URL-encoded).
/// </summary>
public static class MinioNotificationBody
{
    /// <summary>The webhook token the tests configure (<c>Gateway:MinioWebhook:AuthToken</c>).</summary>
    public const string Token = "minio-webhook-secret";

    /// <summary>A notification with one record, for the object <paramref name="encodedKey"/> (URL-encoded, as MinIO sends it) of <paramref name="bucket"/>.</summary>
    public static string Json(string encodedKey, string bucket = "videos", string eventName = "s3:ObjectCreated:Put", string eTag = "eb52f8e46f60a27a8a1a704e25757f30", long size = 84452)
    {
        var body = new
        {
            EventName = eventName,
            Key = $"{bucket}/{encodedKey}",
            Records = new[]
            {
                new
                {
                    eventVersion = "2.0",
                    eventSource = "minio:s3",
                    awsRegion = "",
                    eventTime = "2025-02-06T01:04:31.998Z",
                    eventName,
                    userIdentity = new { principalId = "access_key" },
                    s3 = new
                    {
                        s3SchemaVersion = "1.0",
                        configurationId = "Config",
                        bucket = new { name = bucket, ownerIdentity = new { principalId = "access_key" }, arn = $"arn:aws:s3:::{bucket}" },
                        @object = new
                        {
                            key = encodedKey,
                            size,
                            eTag,
                            contentType = "video/mp4",
                            userMetadata = new Dictionary<string, string> { ["content-type"] = "video/mp4" },
                            sequencer = "182178E8B3728CAC",
                        },
                    },
                    source = new { host = "192.168.1.10", port = "", userAgent = "MinIO (linux; amd64) minio-go/v7.0.83" },
                },
            },
        };
        return JsonSerializer.Serialize(body);
    }

    /// <summary>The webhook request MinIO sends: the body, as JSON, to <c>/events/minio</c> (under <paramref name="gateway"/> when given), with its token.</summary>
    public static HttpRequestMessage Request(string json, string? authorization = "Bearer " + Token, Uri? gateway = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, gateway is null ? new Uri("/events/minio", UriKind.Relative) : new Uri(gateway, "events/minio")) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (authorization is not null)
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        return request;
    }
}
