using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Jobs;

/// <summary>How often the stuck-job sweeper runs where this process drives it, bound from the <c>Sweeper</c> section.</summary>
public sealed record SweeperOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Sweeper";

    /// <summary>The time between sweeps: a minute by default, as the cluster's PingSource (<c>* * * * *</c>) sweeps.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a job may wait for its next stage before a sweep announces it again (its event may have been lost for
    /// good). Long beside a normal queue, so a busy cluster is not sent duplicates it would only drop.
    /// </summary>
    public TimeSpan ResendAfter { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long after it began an upload that has not become a job is taken for abandoned (the process storing it died
    /// before making its job) and removed, with any unfinished write of it. Longer than any upload takes to arrive: a
    /// live one's note is cleared within milliseconds of its last byte.
    /// </summary>
    public TimeSpan AbandonedUploadAfter { get; init; } = TimeSpan.FromHours(6);
}

/// <summary>
/// The stuck-job sweeper on a timer, for the embedded host: what the PingSource does for a cluster (posting to the
/// gateway's <c>/events/sweep</c>), done in process every <see cref="SweeperOptions.Interval"/>. A failed sweep is logged
/// and the next one tries again.
/// </summary>
public sealed partial class StuckJobSweepTimer(
    StuckJobSweeper sweeper,
    IOptions<SweeperOptions> options,
    TimeProvider time,
    ILogger<StuckJobSweepTimer> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    var taken = await sweeper.SweepAsync(stoppingToken).ConfigureAwait(false);
                    if (taken > 0)
                    {
                        LogSwept(logger, taken);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    LogSweepFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The sweep took back {Count} jobs")]
    private static partial void LogSwept(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A sweep failed; the next one tries again")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
