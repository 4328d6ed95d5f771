using GEdge.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GEdge.Gateway;

/// <summary>The pipeline a job goes through: its statuses in order, and its stages with what each consumes, works in and completes.</summary>
/// <param name="Statuses">Every status, in the order a job passes through them.</param>
/// <param name="Stages">The stages, in order.</param>
public sealed record PipelineView(IReadOnlyList<JobStatus> Statuses, IReadOnlyList<PipelineStage> Stages)
{
    /// <summary>This installation's pipeline, from <see cref="PipelineTopology"/>.</summary>
    public static PipelineView Current { get; } = new(JobStateMachine.Statuses, PipelineTopology.Stages);
}

/// <summary>
/// <c>GET /api/pipeline</c>: the topology a client draws a job's progress with (the dashboard's step bar and timing
/// labels), so no client keeps a second list of the statuses. It says nothing about anyone's jobs, so it needs no key.
/// </summary>
public static class PipelineApi
{
    /// <summary>Where the pipeline is described.</summary>
    public const string Path = "/api/pipeline";

    /// <summary>Maps <c>GET /api/pipeline</c>.</summary>
    public static RouteHandlerBuilder MapPipelineApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints.MapGet(Path, () => TypedResults.Ok(PipelineView.Current)).WithName("GetPipeline").WithTags("Pipeline")
            .WithSummary("The statuses a job passes through, in order, and the stages that move it (no key needed).");
    }
}
