namespace GEdge.Jobs;

/// <summary>
/// The keys one stage attempt wrote to the work bucket, recorded by the work as each write completes. When the attempt's
/// job ends under it (cancelled), the stage removes these with the rest of the job's intermediates: the job's own removal
/// may have run while the attempt was still writing, and only the attempt knows what it wrote after that (a manifest it
/// never wrote cannot say, and the run of chunk keys it left no longer starts at 0 for a removal to find).
/// </summary>
public sealed class WrittenKeys
{
    private readonly List<string> _keys = [];

    /// <summary>Records that <paramref name="key"/> was written (its write completed).</summary>
    public void Add(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_keys)
        {
            _keys.Add(key);
        }
    }

    /// <summary>The keys written so far, in the order they were.</summary>
    public IReadOnlyList<string> Keys
    {
        get
        {
            lock (_keys)
            {
                return [.. _keys];
            }
        }
    }
}
