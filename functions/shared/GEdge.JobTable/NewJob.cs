namespace GEdge.JobTable;

/// <summary>A request to create a job for an uploaded video.</summary>
/// <param name="User">Who sent the request.</param>
/// <param name="Path">Where the upload is stored, as bucket/key.</param>
/// <param name="Type">The video's file extension (mp4, mov, ...).</param>
/// <param name="ObjectVersion">The stored object's version (its ETag); with <paramref name="Path"/> it identifies the upload,
/// so submitting the same upload again returns the same job.</param>
/// <param name="TraceId">The W3C trace id of the trace the job's events carry (when one is recorded): what names the job's
/// trace in a tracing backend.</param>
public sealed record NewJob(string User, string Path, string Type, string ObjectVersion, string? TraceId = null);
