using GEdge.Events;
using GEdge.Jobs;

namespace GEdge.Hosting;

/// <summary>
/// The subscribers this function app registered (its <see cref="Subscription"/>s: <c>AddPreprocessStage()</c>,
/// <c>AddIntake()</c>, …), found by the trigger whose events a function receives.
/// </summary>
public sealed class EventSubscribers(IEnumerable<Subscription> subscriptions)
{
    // Materialized once: building the subscriptions builds the stages (and Infer's session), which is what readiness waits for.
    private readonly Subscription[] _subscriptions = [.. subscriptions];

    /// <summary>The subscriber on <paramref name="trigger"/>; throws naming the trigger when the app registered none.</summary>
    public IEventSubscriber For(EventTrigger trigger)
    {
        ArgumentNullException.ThrowIfNull(trigger);
        return Array.Find(_subscriptions, subscription => subscription.Trigger.Name == trigger.Name)?.Handler
            ?? throw new InvalidOperationException(
                $"This function app has no subscriber on trigger '{trigger.Name}'; it has {this}.");
    }

    /// <summary>The triggers subscribed to, as <c>'gedge-infer'</c>, or <c>none</c>.</summary>
    public override string ToString() =>
        _subscriptions.Length == 0 ? "none" : string.Join(", ", _subscriptions.Select(s => $"'{s.Trigger.Name}'"));
}
