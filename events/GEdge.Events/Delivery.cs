using CloudNative.CloudEvents;
using Polly;
using Polly.Retry;

namespace GEdge.Events;

/// <summary>How the wait between delivery retries grows (Knative <c>spec.delivery.backoffPolicy</c>).</summary>
public enum BackoffPolicy
{
    /// <summary>The delay doubles with every retry: <c>backoffDelay</c>, twice that, four times, ...</summary>
    Exponential,

    /// <summary>The delay grows by <c>backoffDelay</c> with every retry: once, twice, three times, ...</summary>
    Linear,
}

/// <summary>
/// How an event is delivered to one subscriber, mirroring a Knative Trigger's <c>spec.delivery</c>: retries with a
/// backoff, then the dead-letter sink. The in-process router and the local HTTP broker read the same options.
/// </summary>
public sealed record DeliveryOptions
{
    /// <summary>Retries after the first failed delivery (Knative <c>retry</c>); 0 dead-letters at the first failure.</summary>
    public int Retry { get; init; } = 3;

    /// <summary>How the backoff grows (Knative <c>backoffPolicy</c>).</summary>
    public BackoffPolicy BackoffPolicy { get; init; } = BackoffPolicy.Exponential;

    /// <summary>The first backoff (Knative <c>backoffDelay</c>); <see cref="BackoffPolicy"/> says how it grows.</summary>
    public TimeSpan BackoffDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Deliver every event twice, as an at-least-once broker may; for tests of idempotency.</summary>
    public bool DuplicateDeliveries { get; init; }
}

/// <summary>
/// The retry schedule of <see cref="DeliveryOptions"/> as a resilience pipeline: one definition for every router, so
/// a delivery spec means the same in the embedded mode and in the local cluster.
/// </summary>
public static class DeliveryRetry
{
    /// <summary>
    /// A pipeline that runs a delivery once plus up to <see cref="DeliveryOptions.Retry"/> retries while
    /// <paramref name="shouldRetry"/> says the outcome is worth retrying, waiting as the backoff policy says in between.
    /// What is still failing after that is the caller's to dead-letter.
    /// </summary>
    public static ResiliencePipeline<T> Create<T>(
        DeliveryOptions options,
        Func<Outcome<T>, bool> shouldRetry,
        Func<OnRetryArguments<T>, ValueTask>? onRetry = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(shouldRetry);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Retry);
        var builder = new ResiliencePipelineBuilder<T>();
        if (options.Retry > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<T>
            {
                MaxRetryAttempts = options.Retry,
                BackoffType = options.BackoffPolicy == BackoffPolicy.Linear ? DelayBackoffType.Linear : DelayBackoffType.Exponential,
                Delay = options.BackoffDelay,
                // Knative's backoff has no jitter; keeping none makes the schedule the manifest's, and tests predictable.
                UseJitter = false,
                ShouldHandle = args => ValueTask.FromResult(shouldRetry(args.Outcome)),
                OnRetry = onRetry,
            });
        }

        return builder.Build();
    }
}

/// <summary>
/// The extension attributes a Knative broker adds to an event it hands to a dead-letter sink, saying why delivery
/// failed. The local broker and the embedded router add the same, so one dead-letter handler serves all three.
/// </summary>
public static class DeadLetterAttributes
{
    /// <summary>The longest response body kept in <see cref="ErrorData"/>, as Knative truncates it.</summary>
    public const int MaxErrorDataBytes = 1024;

    /// <summary>The URL the event could not be delivered to.</summary>
    public static readonly CloudEventAttribute ErrorDestination = CloudEventAttribute.CreateExtension("knativeerrordest", CloudEventAttributeType.String);

    /// <summary>The HTTP status of the last attempt (absent when no response came at all).</summary>
    public static readonly CloudEventAttribute ErrorCode = CloudEventAttribute.CreateExtension("knativeerrorcode", CloudEventAttributeType.String);

    /// <summary>The body of the last response, base64-encoded (as Knative's dispatchers send it), or the connection error.</summary>
    public static readonly CloudEventAttribute ErrorData = CloudEventAttribute.CreateExtension("knativeerrordata", CloudEventAttributeType.String);

    /// <summary>The three attributes.</summary>
    public static IReadOnlyList<CloudEventAttribute> All { get; } = [ErrorDestination, ErrorCode, ErrorData];

    /// <summary>Sets the failure on <paramref name="cloudEvent"/>: where it went, the status (if any) and what came back.</summary>
    public static void Set(CloudEvent cloudEvent, Uri destination, int? statusCode, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(cloudEvent);
        ArgumentNullException.ThrowIfNull(destination);
        cloudEvent[ErrorDestination] = destination.ToString();
        cloudEvent[ErrorCode] = statusCode?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        cloudEvent[ErrorData] = data.IsEmpty ? null : Convert.ToBase64String(data[..Math.Min(data.Length, MaxErrorDataBytes)]);
    }
}
