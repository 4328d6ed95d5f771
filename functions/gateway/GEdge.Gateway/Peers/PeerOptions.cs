namespace GEdge.Gateway.Peers;

/// <summary>
/// Another G-Edge installation this one may send segments to (<c>Peers:Edges:N</c>): its gateway, and for each of this
/// edge's users the API key the peer issued for that user. To the peer, each is just another user with that user's
/// isolation; a user with no key for a peer never has a segment sent there.
/// </summary>
public sealed record PeerEdge
{
    /// <summary>What the peer is called here, in the job table's records and the logs (<c>b</c>, <c>site-2</c>).</summary>
    public string Name { get; init; } = "";

    /// <summary>The peer's gateway (its public API).</summary>
    public Uri? Gateway { get; init; }

    /// <summary>By this edge's user: the API key the peer issued for that user (<c>Peers__Edges__0__Keys__alice=gedge_...</c>).</summary>
    public Dictionary<string, string> Keys { get; init; } = new(StringComparer.Ordinal);
}

/// <summary>Peer edges and when a segment goes to one, bound from the <c>Peers</c> section.</summary>
public sealed record PeerOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Peers";

    /// <summary>The peers; none turns spill-over off.</summary>
    public List<PeerEdge> Edges { get; init; } = [];

    /// <summary>
    /// How long a segment may wait for Infer here before it is sent to a peer: long enough that a cold start (about a
    /// second here, minutes for a GPU node from an empty pool) or a short queue is not worth a round trip over the edge's
    /// network; short against a backlog's wait.
    /// </summary>
    public TimeSpan SpillAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the job table is read for segments that have waited that long.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often each peer is asked for the jobs this edge holds there, to delete those no segment here waits on (one small
    /// request per peer and key; a deleted job's upload and results are what it saves the peer).
    /// </summary>
    public TimeSpan ReconcileInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Segments at a peer at once, over all peers.</summary>
    public int MaxSpilled { get; init; } = 4;

    /// <summary>How long a peer that failed or refused is left out before it is asked again.</summary>
    public TimeSpan PeerBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>What is wrong with the settings, naming the setting; null if nothing is.</summary>
    internal string? Problem() =>
        Edges.FirstOrDefault(e => string.IsNullOrWhiteSpace(e.Name)) is not null ? $"{SectionName}:{nameof(Edges)}: every peer needs a {nameof(PeerEdge.Name)}."
        : Edges.FirstOrDefault(e => e.Gateway is not { IsAbsoluteUri: true }) is { } noGateway ? $"{SectionName}:{nameof(Edges)}: the peer '{noGateway.Name}' needs an absolute {nameof(PeerEdge.Gateway)} URL."
        : Edges.GroupBy(e => e.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice ? $"{SectionName}:{nameof(Edges)} names the peer '{twice.Key}' twice."
        : SpillAfter < TimeSpan.Zero ? $"{SectionName}:{nameof(SpillAfter)} must not be negative."
        : Interval <= TimeSpan.Zero ? $"{SectionName}:{nameof(Interval)} must be positive."
        : ReconcileInterval <= TimeSpan.Zero ? $"{SectionName}:{nameof(ReconcileInterval)} must be positive."
        : MaxSpilled < 1 ? $"{SectionName}:{nameof(MaxSpilled)} must be at least 1."
        : null;
}
