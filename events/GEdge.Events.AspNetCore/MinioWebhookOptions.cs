namespace GEdge.Events.AspNetCore;

/// <summary>Settings of the MinIO webhook endpoint, bound from <c>Gateway:MinioWebhook</c>.</summary>
public sealed record MinioWebhookOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Gateway:MinioWebhook";

    /// <summary>
    /// The bearer token MinIO's webhook target sends (its <c>auth_token</c>, sent as <c>Authorization: Bearer …</c>).
    /// With none configured every notification is refused: an open endpoint would let anyone start jobs.
    /// </summary>
    public string? AuthToken { get; init; }

    /// <summary>
    /// The bucket whose new objects start jobs; notifications for any other are ignored. The gateway sets it from the
    /// storage's bucket names (<c>Storage:Buckets:Uploads</c>), so the name is configured in one place.
    /// </summary>
    public string UploadsBucket { get; set; } = "uploads";

    /// <summary>The <c>source</c> of the <c>video uploaded</c> events made from notifications.</summary>
    public Uri EventSource { get; init; } = new("/gedge/minio", UriKind.Relative);
}
