namespace GEdge.Contracts;

/// <summary>
/// One stage of the pipeline: the function that runs it (its Knative Service name), the status it takes jobs from, the
/// status a job has while it works, and the status it leaves the job in.
/// </summary>
public sealed record PipelineStage(string Name, JobStatus Consumes, JobStatus Working, JobStatus Completes)
{
    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// The pipeline's topology, written once: the stages in order. The job state machine (and the job table's Lua scripts),
/// the Trigger filters (and so <c>knative/triggers.yaml</c>, which a test keeps equal), the stage runner, the sweeper
/// and the job API's list of statuses are all derived from it. A new stage is a row here, its two statuses in
/// <see cref="JobStatus"/>, and its work.
/// </summary>
public static class PipelineTopology
{
    /// <summary>Decode and letterbox (CPU).</summary>
    public static PipelineStage Preprocess { get; } = new("preprocess", JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Preprocessing_complete);

    /// <summary>The detector (GPU where there is one).</summary>
    public static PipelineStage Infer { get; } = new("infer", JobStatus.Preprocessing_complete, JobStatus.Inferencing, JobStatus.Inferencing_complete);

    /// <summary>Boxes, encoding, detections and summary (CPU).</summary>
    public static PipelineStage Postprocess { get; } = new("postprocess", JobStatus.Inferencing_complete, JobStatus.Postprocessing, JobStatus.Postprocessing_complete);

    /// <summary>Every stage, in pipeline order: each consumes what the one before it completes.</summary>
    public static IReadOnlyList<PipelineStage> Stages { get; } = Checked([Preprocess, Infer, Postprocess]);

    /// <summary>The first stage: it cuts a job's video into segments, which then move through the stages on their own.</summary>
    public static PipelineStage First => Stages[0];

    /// <summary>
    /// The last stage: when it has completed every segment, it joins their results into the job's and the job is closed
    /// (<see cref="JobStatus.Exit"/>).
    /// </summary>
    public static PipelineStage Last => Stages[^1];

    /// <summary>The stage that consumes what <paramref name="stage"/> completes; null after the last.</summary>
    public static PipelineStage? After(PipelineStage stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        return Stages.FirstOrDefault(next => next.Consumes == stage.Completes);
    }

    // The table must read as the statuses do: Enqueue, then each stage's working and completed status in turn, then Exit.
    // A row out of step fails every use at once, not a job at a time.
    private static PipelineStage[] Checked(PipelineStage[] stages)
    {
        var statuses = Enum.GetValues<JobStatus>();
        var expected = 0;
        foreach (var stage in stages)
        {
            if (stage.Consumes != statuses[expected] || stage.Working != statuses[expected + 1] || stage.Completes != statuses[expected + 2])
            {
                throw new InvalidOperationException($"The stage '{stage.Name}' is out of step with the order of JobStatus.");
            }

            expected += 2;
        }

        return statuses[expected + 1] == JobStatus.Exit && statuses.Length == expected + 2
            ? stages
            : throw new InvalidOperationException("Every status between Enqueue and Exit must belong to a stage.");
    }
}
