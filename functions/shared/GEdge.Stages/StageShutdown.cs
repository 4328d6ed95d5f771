using GEdge.Jobs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace GEdge.Stages;

/// <summary>
/// What a stage does when its process is told to stop (SIGTERM, which the host turns into
/// <see cref="IHostApplicationLifetime.ApplicationStopping"/>): it takes no more work at once, and has
/// <see cref="StageOptions.ShutdownGrace"/> to finish the stage in hand; work still running then is cancelled and its
/// job given back (<see cref="JobTable.JobTable.GiveBackAsync"/>), for the next sweep to re-queue without counting an
/// attempt. The grace must end before the host's own shutdown timeout, so the giving back is done before it gives up.
/// </summary>
/// <remarks>A host with no application lifetime (a bare service provider) never stops.</remarks>
public sealed class StageShutdown : IDisposable
{
    private readonly CancellationTokenSource _giveBack;
    private readonly CancellationToken _stopping;
    private readonly CancellationTokenRegistration _registration;

    /// <summary>Watches <paramref name="lifetime"/>'s stopping signal.</summary>
    public StageShutdown(IOptions<StageOptions> options, TimeProvider time, IHostApplicationLifetime? lifetime = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        var grace = options.Value.ShutdownGrace;
        _giveBack = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        _stopping = lifetime?.ApplicationStopping ?? CancellationToken.None;
        _registration = _stopping.Register(() => _giveBack.CancelAfter(grace));
    }

    /// <summary>Whether the process has been told to stop: a stage takes no new job.</summary>
    public bool IsStopping => _stopping.IsCancellationRequested;

    /// <summary>Fires when the grace after the stop signal has run out: the work in hand is cancelled and its job given back.</summary>
    public CancellationToken GivingBack => _giveBack.Token;

    /// <inheritdoc />
    public void Dispose()
    {
        _registration.Dispose();
        _giveBack.Dispose();
    }
}
