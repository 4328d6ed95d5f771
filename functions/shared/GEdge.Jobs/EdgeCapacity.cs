using GEdge.Contracts;
using GEdge.JobTable;

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
/// <param name="Processes">Its processes that say they run now (0: none, scaled to zero or no node for it).</param>
/// <param name="Gpu">Whether one of them computes on a GPU.</param>
public sealed record StageCapacity(string Stage, int Waiting, int InFlight, int DoneLastMinute, double? WaitEstimateSeconds, int Processes, bool Gpu);

/// <summary>
/// What an edge tells its peers about itself (<c>GET /api/capacity</c>), read from its job table: per stage, the figures
/// of <see cref="ClusterActivity"/> and a wait estimate from them. A peer sends a segment to the edge with the shortest
/// estimate for the stage it needs.
/// </summary>
/// <param name="At">When it was read.</param>
/// <param name="Stages">Each stage, in the pipeline's order.</param>
public sealed record EdgeCapacity(DateTimeOffset At, IReadOnlyList<StageCapacity> Stages)
{
    /// <summary>The capacity that <paramref name="activity"/> and the running <paramref name="processes"/> show.</summary>
    public static EdgeCapacity Of(ClusterActivity activity, IReadOnlyList<StageProcess> processes)
    {
        ArgumentNullException.ThrowIfNull(activity);
        ArgumentNullException.ThrowIfNull(processes);
        return new EdgeCapacity(activity.At, [.. activity.Stages.Select(stage => new StageCapacity(
            stage.Stage, stage.Waiting, stage.InFlight, stage.DoneLastMinute,
            stage.Waiting + stage.InFlight == 0 ? 0
            : stage.DoneLastMinute > 0 ? (stage.Waiting + stage.InFlight) * ClusterActivity.Window.TotalSeconds / stage.DoneLastMinute
            : null,
            processes.Count(p => p.Stage == stage.Stage),
            processes.Any(p => p.Stage == stage.Stage && p.OnGpu)))]);
    }

    /// <summary>Reads an edge's capacity from its job table at <paramref name="time"/>'s now.</summary>
    public static async Task<EdgeCapacity> ReadAsync(JobTable.JobTable jobs, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        return Of(await ClusterActivity.ReadAsync(jobs, time).ConfigureAwait(false), await jobs.ListProcessesAsync().ConfigureAwait(false));
    }

    /// <summary>The figures of <paramref name="stage"/>.</summary>
    public StageCapacity For(PipelineStage stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        return Stages.Single(s => s.Stage == stage.Name);
    }
}
