namespace GEdge.JobTable;

/// <summary>One page of a user's jobs, newest first.</summary>
/// <param name="Jobs">The jobs on this page.</param>
/// <param name="Total">How many jobs the user has in all.</param>
/// <param name="Offset">How many newer jobs come before this page.</param>
/// <param name="Limit">The page size asked for.</param>
public sealed record JobPage(IReadOnlyList<Job> Jobs, long Total, int Offset, int Limit)
{
    /// <summary>Whether older jobs follow this page.</summary>
    public bool HasMore => Offset + (long)Limit < Total;
}
