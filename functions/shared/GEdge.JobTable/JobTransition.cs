using GEdge.Contracts;

namespace GEdge.JobTable;

/// <summary>One entry of a job's history: the status it entered, and when.</summary>
public sealed record JobTransition(JobStatus Status, DateTimeOffset Time);
