using GEdge.Events;
using GEdge.Metrics;
using GEdge.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GEdge.Jobs;

/// <summary>Registers the job lifecycle: the core every host needs, and the parts the gateway owns (intake, dead letters, sweeper).</summary>
public static class JobsServiceCollectionExtensions
{
    /// <summary>
    /// Adds what everything that moves jobs shares: bucket names (<c>Storage:Buckets</c>), stage options (<c>Stages</c>),
    /// the clock, <see cref="JobEnding"/>, the one way a job ends, and <see cref="ArtifactRemoval"/>, the one way a job's
    /// objects go. The host also registers an <see cref="IJobIntermediates"/> (<c>AddJobIntermediates</c> in
    /// <c>GEdge.Artifacts</c>): what the removal goes by.
    /// </summary>
    public static IServiceCollection AddJobCore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<BucketOptions>().BindConfiguration("Storage:Buckets");
        services.AddOptions<StageOptions>().BindConfiguration("Stages");
        services.AddGEdgeMetrics();
        services.TryAddSingleton<ArtifactRemoval>();
        services.TryAddSingleton<JobEnding>();
        services.TryAddSingleton(TimeProvider.System);
        return services;
    }

    /// <summary>
    /// Adds the job intake as a subscription on the <see cref="GEdgeTriggers.Intake"/> trigger, and the upload path
    /// (<see cref="JobSubmissions"/>, which needs the host's <see cref="IEventPublisher"/>).
    /// </summary>
    public static IServiceCollection AddIntake(this IServiceCollection services)
    {
        services.AddJobCore();
        services.TryAddSingleton<JobIntake>();
        services.TryAddSingleton<JobSubmissions>();
        services.AddSingleton(provider => new Subscription(GEdgeTriggers.Intake, provider.GetRequiredService<JobIntake>()));
        return services;
    }

    /// <summary>
    /// Adds the <see cref="DeliveryFailureRecorder"/>, the dead-letter sink's handler, and the <see cref="StuckJobSweeper"/>
    /// it shares the taking back of a job with (its options from <c>Sweeper</c>). The host also registers an
    /// <see cref="IObjectStore"/> and an <see cref="IEventPublisher"/>, since what the recorder announces it publishes.
    /// </summary>
    public static IServiceCollection AddDeliveryFailureRecorder(this IServiceCollection services)
    {
        services.AddJobCore();
        services.AddOptions<SweeperOptions>().BindConfiguration(SweeperOptions.SectionName)
            .Validate(options => options.Interval > TimeSpan.Zero, $"{SweeperOptions.SectionName}:{nameof(SweeperOptions.Interval)} must be positive.")
            .Validate(options => options.ResendAfter > TimeSpan.Zero, $"{SweeperOptions.SectionName}:{nameof(SweeperOptions.ResendAfter)} must be positive.")
            .ValidateOnStart();
        services.TryAddSingleton<StuckJobSweeper>();
        services.TryAddSingleton<DeliveryFailureRecorder>();
        return services;
    }

    /// <summary>
    /// Adds the stuck-job sweeper on a timer (<see cref="StuckJobSweepTimer"/>, every <c>Sweeper:Interval</c>), for a host
    /// that has no PingSource to drive it: the embedded one. Needs what <see cref="AddDeliveryFailureRecorder"/> needs.
    /// </summary>
    public static IServiceCollection AddStuckJobSweepTimer(this IServiceCollection services)
    {
        services.AddDeliveryFailureRecorder();
        services.AddHostedService<StuckJobSweepTimer>();
        return services;
    }
}
