using GEdge.Contracts;
using GEdge.JobTable;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GEdge.Stages;

/// <summary>What a stage computes on, when it is not the CPU: Infer registers one naming its execution provider.</summary>
public interface IStageDevice
{
    /// <summary>The stage it is the device of.</summary>
    PipelineStage Stage { get; }

    /// <summary>Its name (<c>cuda</c>, <c>cpu</c>); may wait for the stage to be ready (Infer's model loaded).</summary>
    string Name { get; }
}

/// <summary>
/// Says in the job table that this process runs <see cref="Stage"/> (<see cref="JobTable.JobTable.AnnounceProcessAsync"/>)
/// every <see cref="Interval"/>, for three intervals, and withdraws it when the process stops: what an edge's capacity
/// counts as its processes per stage, whichever host runs them (a Knative pod, a <c>gedge serve</c> process, the embedded
/// pipeline). A process killed outright drops out once its word lapses.
/// </summary>
public sealed partial class StagePresence(PipelineStage stage, IServiceProvider services, JobTable.JobTable jobs, ILogger<StagePresence> logger) : BackgroundService
{
    /// <summary>How often the process says it runs.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    private StageProcess? _announced;

    /// <summary>The stage this process runs.</summary>
    public PipelineStage Stage { get; } = stage;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                // The device is asked each time: Infer's is known once its model has loaded.
                var device = services.GetServices<IStageDevice>().FirstOrDefault(d => d.Stage == Stage)?.Name ?? StageProcess.CpuDevice;
                _announced = new StageProcess(Stage.Name, StageWorker.Current, device);
                await jobs.AnnounceProcessAsync(_announced, 3 * Interval).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The job table restarting: the next beat says it again.
                LogNotAnnounced(logger, e, Stage.Name);
            }
        }
        while (await NextAsync(timer, stoppingToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_announced is { } announced)
        {
            try
            {
                await jobs.WithdrawProcessAsync(announced).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // It lapses by itself.
                LogNotAnnounced(logger, e, Stage.Name);
            }
        }
    }

    private static async Task<bool> NextAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not say in the job table that this process runs {Stage}; the next beat tries again")]
    private static partial void LogNotAnnounced(ILogger logger, Exception exception, string stage);
}
