namespace GEdge.Jobs;

/// <summary>
/// Keeps a lease while its holder works: whoever holds a job or a segment in a working status (a stage, the spill worker
/// while the segment is at a peer) renews it every <see cref="StageOptions.LeaseRenewal"/>, so that only a holder that
/// died lets it lapse and the sweeper take the work back.
/// </summary>
public static class LeaseRenewal
{
    /// <summary>
    /// Calls <paramref name="renew"/> every <paramref name="every"/> until <paramref name="cancellationToken"/> fires (the
    /// work ended). A renewal refused (the work was taken back, or its job cancelled) calls <paramref name="lost"/> and
    /// cancels <paramref name="leaseLost"/>, which calls the work off. A renewal that fails (the job table out of reach
    /// for longer than its own retries) goes to <paramref name="unreachable"/> and the renewals go on: if the lease runs
    /// out meanwhile, the sweeper takes the work back and its result is not recorded.
    /// </summary>
    public static async Task KeepAsync(
        Func<Task<bool>> renew,
        TimeSpan every,
        TimeProvider time,
        CancellationTokenSource leaseLost,
        Action lost,
        Action<Exception> unreachable,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(renew);
        ArgumentNullException.ThrowIfNull(leaseLost);
        ArgumentNullException.ThrowIfNull(lost);
        ArgumentNullException.ThrowIfNull(unreachable);
        using var timer = new PeriodicTimer(every, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                bool renewed;
                try
                {
                    renewed = await renew().ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    unreachable(e);
                    continue;
                }

                if (!renewed)
                {
                    lost();
                    await leaseLost.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The work ended; so does the renewal.
        }
    }
}
