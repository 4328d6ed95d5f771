namespace GEdge.Gateway;

/// <summary>Settings of the gateway, bound from the <c>Gateway</c> section.</summary>
public sealed record GatewayOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Gateway";

    /// <summary>
    /// The largest upload taken, in bytes. Uploads stream to storage, so this bounds disk and bucket use, not memory;
    /// Kestrel's own 30 MB default would refuse most videos.
    /// </summary>
    public long MaxUploadBytes { get; init; } = 8L * 1024 * 1024 * 1024;

    /// <summary>What is wrong with the settings, naming the setting; null if nothing is.</summary>
    internal string? Problem() =>
        MaxUploadBytes < 1 ? $"{SectionName}:{nameof(MaxUploadBytes)} must be positive, not {MaxUploadBytes}." : null;
}
