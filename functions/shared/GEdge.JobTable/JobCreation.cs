namespace GEdge.JobTable;

/// <summary>The job for a submitted upload, and whether this submission created it or it already existed.</summary>
public sealed record JobCreation(Job Job, bool Created);
