using GEdge.Contracts;

namespace GEdge.JobTable;

/// <summary>What <see cref="JobTable.FailAttemptAsync"/> did.</summary>
public enum FailureResult
{
    /// <summary>The job went back to the status its stage consumes, to be tried again.</summary>
    Retried,

    /// <summary>The job reached the iteration limit, or the failure was permanent: it is in <see cref="JobStatus.Exit"/> with the reason.</summary>
    Exited,

    /// <summary>
    /// The stage had given the job back (<see cref="JobTable.GiveBackAsync"/>): it went back to the status its stage
    /// consumes without counting an attempt, since nothing failed.
    /// </summary>
    Requeued,

    /// <summary>The job was not in the working status (it moved on, or does not exist): nothing changed.</summary>
    NotInStatus,
}

/// <summary>What a failed attempt did to the job, and the job as it is afterwards (null if there is no such job).</summary>
public sealed record FailureOutcome(FailureResult Result, Job? Job);
