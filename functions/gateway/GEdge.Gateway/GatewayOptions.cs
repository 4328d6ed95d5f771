using GEdge.Contracts;
using GEdge.Storage;

namespace GEdge.Gateway;

/// <summary>Settings of the gateway, bound from the <c>Gateway</c> section.</summary>
public sealed record GatewayOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Gateway";

    /// <summary>
    /// The largest upload request taken, in bytes. Uploads stream to storage, so this bounds disk and bucket use, not
    /// memory; Kestrel's own 30 MB default would refuse most videos.
    /// </summary>
    public long MaxUploadBytes { get; init; } = 8L * 1024 * 1024 * 1024;

    /// <summary>
    /// Who may call the API: each entry a user and the SHA-256 of one of their keys (<c>Gateway__ApiKeys__0__User</c>,
    /// <c>Gateway__ApiKeys__0__Sha256</c>, from a Secret in a cluster). A user may have several keys, so keys rotate
    /// without downtime. With none, every API request is refused.
    /// </summary>
    public IReadOnlyList<GatewayApiKey> ApiKeys { get; init; } = [];

    /// <summary>
    /// Whether this gateway takes events: <c>POST /</c> (<c>video uploaded</c>), <c>/events/dead-letter</c> and
    /// <c>/events/sweep</c> (MinIO's webhook, with its own token, is always there). The public <c>gateway</c> Service of a
    /// cluster sets it false, and the cluster-local <c>gateway-events</c> Service of the same app takes them
    /// (<see cref="GEdge.Events.GEdgeTriggers.GatewayEventsService"/>), so nothing outside the cluster reaches them.
    /// </summary>
    public bool EventEndpoints { get; init; } = true;

    /// <summary>
    /// How long a dashboard session lasts after sign-in (<see cref="DashboardSessions"/>); the cookie expires with it, and
    /// signing out ends it at once.
    /// </summary>
    public TimeSpan SessionLifetime { get; init; } = TimeSpan.FromHours(12);

    /// <summary>What is wrong with the settings, naming the setting; null if nothing is.</summary>
    internal string? Problem()
    {
        if (MaxUploadBytes < 1)
        {
            return $"{SectionName}:{nameof(MaxUploadBytes)} must be positive, not {MaxUploadBytes}.";
        }

        if (SessionLifetime < TimeSpan.FromMinutes(1))
        {
            return $"{SectionName}:{nameof(SessionLifetime)} must be at least a minute, not {SessionLifetime}.";
        }

        for (var i = 0; i < ApiKeys.Count; i++)
        {
            var entry = $"{SectionName}:{nameof(ApiKeys)}:{i}";
            var key = ApiKeys[i];
            try
            {
                ObjectKey.ValidateUser(key.User);
            }
            catch (ArgumentException e)
            {
                return $"{entry}:{nameof(GatewayApiKey.User)} is not a user name: {e.Message}";
            }

            if (!Gateway.ApiKeys.IsHash(key.Sha256))
            {
                return $"{entry}:{nameof(GatewayApiKey.Sha256)} must be the 64 hex digits of the key's SHA-256 (`gedge api-key new {key.User}` prints it).";
            }
        }

        return null;
    }
}

/// <summary>One API key the gateway takes: whose it is, and its SHA-256 (lowercase hex, as <see cref="ApiKeys.Hash"/> makes it).</summary>
public sealed record GatewayApiKey
{
    /// <summary>The user the key belongs to; the prefix of their objects.</summary>
    public string User { get; init; } = string.Empty;

    /// <summary>The key's SHA-256 as 64 hex digits.</summary>
    public string Sha256 { get; init; } = string.Empty;
}
