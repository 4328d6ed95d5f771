using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;

namespace GEdge.Stages;

/// <summary>How far a stage has got with a segment of a job: frames done of the segment's total (when known).</summary>
public readonly record struct StageProgress(long JobId, JobStatus Stage, int FramesDone, int FramesTotal)
{
    /// <summary>The segment the frames belong to (the stage runner sets it: a work reports frames only).</summary>
    public int Segment { get; init; }

    /// <summary>How many segments the job has (the stage runner sets it).</summary>
    public int Segments { get; init; }
}

/// <summary>Where stages report progress; the embedded command line prints it, the functions log it.</summary>
public interface IStageProgressSink
{
    /// <summary>Called as frames are done; must be cheap.</summary>
    void Report(StageProgress progress);
}

/// <summary>What one stage does for one segment of a job, between its claim and its completion.</summary>
public interface IStageWork
{
    /// <summary>Which stage of <see cref="PipelineTopology"/> this is: what it consumes, works in and completes.</summary>
    PipelineStage Stage { get; }

    /// <summary>Does the work on one segment; returns fields to record on it. Throws <see cref="UnprocessableInputException"/> for input that can never succeed.</summary>
    Task<IReadOnlyDictionary<string, string>> RunAsync(StageContext context, CancellationToken cancellationToken);
}

/// <summary>The first stage's other work: cutting a job's video into segments before any of them is worked on.</summary>
public interface ICutWork : IStageWork
{
    /// <summary>Cuts the job's video; returns where each segment starts and fields to record on the job.</summary>
    Task<JobCut> CutAsync(JobContext context, CancellationToken cancellationToken);
}

/// <summary>The last stage's other work: joining the segments' results into the job's once every segment is done.</summary>
public interface IJoinWork : IStageWork
{
    /// <summary>Joins the results; returns fields to record on the job as it closes. Must be safe to repeat.</summary>
    Task<IReadOnlyDictionary<string, string>> JoinAsync(JobContext context, CancellationToken cancellationToken);
}

/// <summary>What a cut made: each segment's start in seconds, in order, and fields for the job record.</summary>
public sealed record JobCut(IReadOnlyList<double> SegmentStarts, IReadOnlyDictionary<string, string> Fields);

/// <summary>What a stage's work gets to know about the segment in hand.</summary>
public sealed record StageContext(Job Job, JobSegment Segment, SegmentArtifacts Artifacts, IStageProgressSink Progress)
{
    /// <summary>Where the work records each key it wrote to the work bucket, as the write completes (<see cref="WrittenKeys"/>).</summary>
    public WrittenKeys Written { get; init; } = new();
}

/// <summary>What the cut and the join get to know about the job: the job, its segments (none before the cut) and where its artifacts live.</summary>
public sealed record JobContext(Job Job, IReadOnlyList<JobSegment> Segments, JobArtifacts Artifacts, IStageProgressSink Progress)
{
    /// <summary>Where the work records each key it wrote to the work bucket, as the write completes (<see cref="WrittenKeys"/>).</summary>
    public WrittenKeys Written { get; init; } = new();
}

/// <summary>Who does a stage's work: <c>host/pid</c>, recorded on each segment it claims (a pod's host name is its name).</summary>
public static class StageWorker
{
    /// <summary>This process.</summary>
    public static string Current { get; } = $"{Environment.MachineName}/{Environment.ProcessId}";
}
