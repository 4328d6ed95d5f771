using Polly;
using Polly.Retry;
using StackExchange.Redis;

namespace GEdge.JobTable;

/// <summary>
/// The one retry pipeline every Redis call of the job table runs under: a transient fault (the connection dropped, the
/// server restarting or still replaying its append-only file, a timeout) is tried again with exponential backoff.
/// </summary>
/// <remarks>
/// Retrying is safe for every call the job table makes, which is why it can wrap them all in one place. Reads change
/// nothing. <see cref="JobScripts.Create"/> is idempotent by design (the object key finds the job a lost reply made).
/// The status-changing scripts are compare-and-sets, and a retry after an unknown outcome would otherwise see its own
/// change as someone else's ("no longer in that status": a claim we hold reported lost, a failed attempt's re-queue
/// never announced); so each call carries a change id that the script records with its answer, and a retry that finds
/// its own change answers as the first attempt did. Renewing and giving back a lease set the same values again.
/// </remarks>
internal static class JobTableResilience
{
    /// <summary>The pipeline for <paramref name="options"/>; <paramref name="onRetry"/> logs each retry.</summary>
    public static ResiliencePipeline Create(JobTableOptions options, Func<OnRetryArguments<object>, ValueTask> onRetry)
    {
        var builder = new ResiliencePipelineBuilder();
        if (options.RetryAttempts > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.RetryAttempts,
                Delay = options.RetryDelay,
                MaxDelay = TimeSpan.FromSeconds(5),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
                OnRetry = onRetry,
            });
        }

        return builder.Build();
    }

    /// <summary>
    /// Whether a failed call may succeed if tried again: no connection, a timeout, or a server that says "not now"
    /// (LOADING while it replays its data after a restart, TRYAGAIN, MASTERDOWN). A script error or a wrong type is not.
    /// </summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        RedisConnectionException => true,
        RedisTimeoutException => true,
        RedisServerException e => e.Message.StartsWith("LOADING", StringComparison.Ordinal)
            || e.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
            || e.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal),
        _ => false,
    };
}
