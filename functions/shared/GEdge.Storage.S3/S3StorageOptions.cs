namespace GEdge.Storage.S3;

/// <summary>Where the S3/MinIO store connects, bound from the <c>Storage:S3</c> configuration section.</summary>
public sealed record S3StorageOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "Storage:S3";

    /// <summary>
    /// The server: <c>host:port</c> (TLS as <see cref="UseSsl"/> says) or an <c>http://</c>/<c>https://</c> URL (the
    /// scheme decides TLS). Setting it is what selects this store over the local folder.
    /// </summary>
    public string? Endpoint { get; init; }

    /// <summary>The access key (MinIO's user name).</summary>
    public string? AccessKey { get; init; }

    /// <summary>The secret key.</summary>
    public string? SecretKey { get; init; }

    /// <summary>Whether a <c>host:port</c> endpoint is reached over HTTPS.</summary>
    public bool UseSsl { get; init; }

    /// <summary>
    /// The region requests are signed for. MinIO's default is <c>us-east-1</c>; naming it saves a bucket-location
    /// lookup per bucket.
    /// </summary>
    public string Region { get; init; } = "us-east-1";

    /// <summary>How many times a request that failed transiently (no connection, 5xx, 429) is retried.</summary>
    public int RetryAttempts { get; init; } = 5;

    /// <summary>The first retry's delay; each further retry waits about twice as long (with jitter).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The endpoint as <c>host:port</c> and whether it is reached over TLS.</summary>
    internal (string HostAndPort, bool Secure) ResolveEndpoint()
    {
        var endpoint = Endpoint?.Trim() ?? string.Empty;
        // "minio:9000" also parses as an absolute URI (scheme "minio"), so only http and https count as URLs.
        return Uri.TryCreate(endpoint, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
            ? (url.Authority, url.Scheme == Uri.UriSchemeHttps)
            : (endpoint.TrimEnd('/'), UseSsl);
    }

    /// <summary>What is wrong with these options, or null when they can be used.</summary>
    internal string? Problem()
    {
        if (string.IsNullOrWhiteSpace(Endpoint))
        {
            return $"{SectionName}:{nameof(Endpoint)} is not set";
        }

        if (Uri.TryCreate(Endpoint.Trim(), UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
            && url.AbsolutePath != "/")
        {
            return $"{SectionName}:{nameof(Endpoint)} '{Endpoint}' has a path; give the server only (path-style buckets are added per request)";
        }

        if (string.IsNullOrEmpty(AccessKey) || string.IsNullOrEmpty(SecretKey))
        {
            return $"{SectionName}:{nameof(AccessKey)} and {SectionName}:{nameof(SecretKey)} must both be set";
        }

        if (string.IsNullOrWhiteSpace(Region))
        {
            return $"{SectionName}:{nameof(Region)} is empty";
        }

        if (RetryAttempts < 0 || RetryDelay < TimeSpan.Zero)
        {
            return $"{SectionName}:{nameof(RetryAttempts)} and {SectionName}:{nameof(RetryDelay)} cannot be negative";
        }

        return null;
    }
}
