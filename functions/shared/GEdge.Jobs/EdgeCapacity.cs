using GEdge.Contracts;

namespace GEdge.Jobs;

/// <summary>
/// One stage's capacity as a peer edge sees it: what waits for it and what it works on now, what it finished in the last
/// minute, and how long a segment sent now would wait for it.
/// </summary>
/// <param name="Stage">The stage.</param>
/// <param name="Waiting">Segments waiting for it.</param>
/// <param name="InFlight">Segments it is working on.</param>
/// <param name="DoneLastMinute">Segments it completed in the last minute: its throughput.</param>
/// <param name="WaitEstimateSeconds">
/// How long a segment sent now would wait for it: 0 when nothing waits or runs; else what is waiting and running over
/// its throughput; null when it has work but finished nothing in the last minute (no measured throughput: no process,
/// or one just started).
/// </param>
public sealed record StageCapacity(string Stage, int Waiting, int InFlight, int DoneLastMinute, double? WaitEstimateSeconds);

/// <summary>
/// What an edge tells its peers about itself (<c>GET /api/capacity</c>), read from its job table: per stage, the figures
/// of <see cref="ClusterActivity"/> and a wait estimate from them. A peer sends a segment to the edge with the shortest
/// estimate for the stage it needs.
/// </summary>
/// <param name="At">When it was read.</param>
/// <param name="Stages">Each stage, in the pipeline's order.</param>
public sealed record EdgeCapacity(DateTimeOffset At, IReadOnlyList<StageCapacity> Stages)
{
    /// <summary>The capacity that <paramref name="activity"/> shows.</summary>
    public static EdgeCapacity Of(ClusterActivity activity)
    {
        ArgumentNullException.ThrowIfNull(activity);
        return new EdgeCapacity(activity.At, [.. activity.Stages.Select(stage => new StageCapacity(
            stage.Stage, stage.Waiting, stage.InFlight, stage.DoneLastMinute,
            stage.Waiting + stage.InFlight == 0 ? 0
            : stage.DoneLastMinute > 0 ? (stage.Waiting + stage.InFlight) * ClusterActivity.Window.TotalSeconds / stage.DoneLastMinute
            : null))]);
    }

    /// <summary>The figures of <paramref name="stage"/>.</summary>
    public StageCapacity For(PipelineStage stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        return Stages.Single(s => s.Stage == stage.Name);
    }
}
