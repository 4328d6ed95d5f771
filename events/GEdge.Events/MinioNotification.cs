using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using GEdge.Contracts;

namespace GEdge.Events;

/// <summary>
/// The body MinIO's webhook (and its Kafka and NSQ targets) sends for a bucket notification: the event name, the
/// object as <c>bucket/key</c>, and the S3-style records. Only what G-Edge reads is modelled; the rest is ignored.
/// </summary>
public sealed record MinioNotification(
    [property: JsonPropertyName("EventName")] string? EventName,
    [property: JsonPropertyName("Key")] string? Key,
    [property: JsonPropertyName("Records"), JsonRequired] IReadOnlyList<MinioEventRecord> Records);

/// <summary>One S3 event record of a MinIO notification.</summary>
public sealed record MinioEventRecord(
    [property: JsonPropertyName("eventName"), JsonRequired] string EventName,
    [property: JsonPropertyName("s3"), JsonRequired] MinioS3Entity S3);

/// <summary>The bucket and object a record is about.</summary>
public sealed record MinioS3Entity(
    [property: JsonPropertyName("bucket"), JsonRequired] MinioBucket Bucket,
    [property: JsonPropertyName("object"), JsonRequired] MinioObject StoredObject);

/// <summary>The bucket of a record.</summary>
public sealed record MinioBucket([property: JsonPropertyName("name"), JsonRequired] string Name);

/// <summary>The object of a record. <see cref="Key"/> is URL-encoded as MinIO sends it (Go's <c>url.QueryEscape</c>).</summary>
public sealed record MinioObject(
    [property: JsonPropertyName("key"), JsonRequired] string Key,
    // Optional: a removal's record carries neither (MinIO sends only the key and a sequencer); a new object's must have its ETag.
    [property: JsonPropertyName("size")] long? Size = null,
    [property: JsonPropertyName("eTag")] string? ETag = null);

/// <summary>What one record means for G-Edge: an upload that starts a job, or the reason it is ignored.</summary>
public sealed record MinioRecordMapping
{
    private MinioRecordMapping(VideoUploaded? upload, string? ignoredBecause) => (Upload, IgnoredBecause) = (upload, ignoredBecause);

    /// <summary>The upload, when the record starts a job.</summary>
    public VideoUploaded? Upload { get; }

    /// <summary>Why the record starts no job, when it does not.</summary>
    public string? IgnoredBecause { get; }

    /// <summary>A record that starts a job for <paramref name="upload"/>.</summary>
    public static MinioRecordMapping Accepted(VideoUploaded upload) => new(upload ?? throw new ArgumentNullException(nameof(upload)), null);

    /// <summary>A record that starts no job, for <paramref name="reason"/>.</summary>
    public static MinioRecordMapping Ignored(string reason) => new(null, reason);
}

/// <summary>Source-generated JSON for MinIO's notification body; nullable annotations are enforced, so a null key fails parsing.</summary>
[JsonSourceGenerationOptions(RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(MinioNotification))]
internal sealed partial class MinioNotificationJsonContext : JsonSerializerContext;

/// <summary>
/// Turns MinIO bucket notifications into <see cref="VideoUploaded"/> data. Every record is either a new video under
/// a user's prefix (<c>{user}/...</c>), or ignored with a reason (not a new object's content, not a video), or
/// refused: a key that is not safe or not under a valid user's prefix is a forged or broken notification.
/// </summary>
public static class MinioNotifications
{
    /// <summary>
    /// The event names that mean new object content. MinIO also files metadata changes under <c>s3:ObjectCreated:</c>
    /// (<c>PutRetention</c>, <c>PutLegalHold</c>, <c>PutTagging</c>, <c>DeleteTagging</c>); those leave the video as it
    /// was and must not start a job.
    /// </summary>
    public static FrozenSet<string> ContentCreatedEvents { get; } = new[]
    {
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:CompleteMultipartUpload",
    }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Parses a notification body; throws <see cref="InvalidEventException"/> saying what is wrong with it.</summary>
    public static MinioNotification Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, MinioNotificationJsonContext.Default.MinioNotification)
                ?? throw new InvalidEventException("The MinIO notification is JSON null.");
        }
        catch (JsonException e)
        {
            throw new InvalidEventException($"The body is not a MinIO notification: {e.Message}");
        }
    }

    /// <summary>
    /// Maps one record. Throws <see cref="InvalidEventException"/> or <see cref="InvalidObjectKeyException"/> for a
    /// record that cannot be genuine: a malformed key encoding, an unsafe key or bucket, no valid user prefix, no ETag.
    /// </summary>
    /// <param name="record">The record.</param>
    /// <param name="uploadsBucket">The bucket users upload to: only its objects start jobs (a notification for the results
    /// or work bucket, wired by mistake, would otherwise reprocess a result, or make a job for a user named "jobs").</param>
    public static MinioRecordMapping Map(MinioEventRecord record, string uploadsBucket)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentException.ThrowIfNullOrEmpty(uploadsBucket);
        if (!ContentCreatedEvents.Contains(record.EventName))
        {
            return MinioRecordMapping.Ignored(record.EventName.StartsWith("s3:ObjectCreated:", StringComparison.Ordinal)
                ? $"'{record.EventName}' changes the object's metadata, not its content"
                : $"'{record.EventName}' does not create an object");
        }

        if (record.S3.Bucket.Name != uploadsBucket)
        {
            return MinioRecordMapping.Ignored($"only objects in the uploads bucket '{uploadsBucket}' start jobs");
        }

        var bucket = ObjectKey.ValidateBucket(record.S3.Bucket.Name);
        var key = ObjectKey.Validate(UnescapeObjectKey(record.S3.StoredObject.Key));
        if (!VideoFileTypes.IsVideo(key))
        {
            return MinioRecordMapping.Ignored($"'{key}' is not a video (extension '{VideoFileTypes.ExtensionOf(key)}')");
        }

        var slash = key.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            throw new InvalidEventException($"The object '{bucket}/{key}' is not under a user's prefix ('{{user}}/...').");
        }

        var user = ObjectKey.ValidateUser(key[..slash]);
        if (string.IsNullOrEmpty(record.S3.StoredObject.ETag))
        {
            // The ETag tells two uploads of one key apart; without it the job table cannot keep "one upload, one job".
            throw new InvalidEventException($"The record for '{bucket}/{key}' has no 's3.object.eTag'.");
        }

        return MinioRecordMapping.Accepted(new VideoUploaded(user, bucket, key, record.S3.StoredObject.ETag, record.S3.StoredObject.Size ?? 0));
    }

    /// <summary>
    /// Decodes an object key as MinIO encodes it in records: Go's <c>url.QueryEscape</c>, so a space arrives as
    /// <c>+</c>, a literal plus as <c>%2B</c>, '/' as <c>%2F</c>, and other bytes of the UTF-8 key as <c>%XX</c>.
    /// <c>%20</c> decodes to a space as well. Strict, like Go's <c>url.QueryUnescape</c>: a broken <c>%</c> sequence
    /// or bytes that are not UTF-8 throw <see cref="InvalidEventException"/> rather than guess a different key.
    /// </summary>
    public static string UnescapeObjectKey(string escaped)
    {
        ArgumentNullException.ThrowIfNull(escaped);
        if (escaped.AsSpan().IndexOfAny('%', '+') < 0)
        {
            return escaped;
        }

        var bytes = new byte[Encoding.UTF8.GetMaxByteCount(escaped.Length)];
        var length = 0;
        for (var i = 0; i < escaped.Length;)
        {
            switch (escaped[i])
            {
                case '%':
                    if (i + 2 >= escaped.Length
                        || !byte.TryParse(escaped.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
                    {
                        throw new InvalidEventException($"The object key '{escaped}' has a '%' at {i} that is not followed by two hex digits.");
                    }

                    bytes[length++] = value;
                    i += 3;
                    break;
                case '+':
                    bytes[length++] = (byte)' ';
                    i++;
                    break;
                default:
                    // MinIO escapes everything else, but a key written by hand ('alice/clip%20one.mp4') keeps its
                    // plain characters: copy the run up to the next escape as UTF-8.
                    var next = escaped.AsSpan(i).IndexOfAny('%', '+');
                    var run = next < 0 ? escaped.AsSpan(i) : escaped.AsSpan(i, next);
                    length += Encoding.UTF8.GetBytes(run, bytes.AsSpan(length));
                    i += run.Length;
                    break;
            }
        }

        try
        {
            return s_strictUtf8.GetString(bytes, 0, length);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidEventException($"The object key '{escaped}' does not decode to UTF-8.");
        }
    }
}
