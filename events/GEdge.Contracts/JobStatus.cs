using System.Diagnostics.CodeAnalysis;

namespace GEdge.Contracts;

/// <summary>The eight states of a job, stored in the job hash by their exact names.</summary>
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores",
    Justification = "The names are the job table's wire contract (the status field and the CloudEvent attribute).")]
public enum JobStatus
{
    /// <summary>Created; waiting for Preprocess.</summary>
    Enqueue,

    /// <summary>Preprocess has claimed the job.</summary>
    Preprocessing,

    /// <summary>Model-ready frames are written; waiting for Infer.</summary>
    Preprocessing_complete,

    /// <summary>Infer has claimed the job.</summary>
    Inferencing,

    /// <summary>Detections are written; waiting for Postprocess.</summary>
    Inferencing_complete,

    /// <summary>Postprocess has claimed the job.</summary>
    Postprocessing,

    /// <summary>Results are written.</summary>
    Postprocessing_complete,

    /// <summary>Finished: done, failed or cancelled. Nothing leaves this state.</summary>
    Exit,
}
