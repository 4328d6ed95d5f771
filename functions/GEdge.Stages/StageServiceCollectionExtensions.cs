using GEdge.Events;
using GEdge.Storage;
using GEdge.Vision;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace GEdge.Stages;

/// <summary>Registers stages: each as a <see cref="Subscription"/> (its trigger and its handler) for whatever host routes events to it.</summary>
public static partial class StageServiceCollectionExtensions
{
    /// <summary>
    /// Adds what every stage shares: bucket names (<c>Storage:Buckets</c>), stage options (<c>Stages</c>), a progress
    /// sink that logs when the host brings none, and the job intake (the gateway's handler of <c>video uploaded</c>).
    /// </summary>
    public static IServiceCollection AddStageCore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<BucketOptions>().BindConfiguration("Storage:Buckets");
        services.AddOptions<StageOptions>().BindConfiguration("Stages");
        services.TryAddSingleton<IStageProgressSink, LoggingProgressSink>();
        services.TryAddSingleton<JobIntake>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<StageShutdown>();
        return services;
    }

    /// <summary>
    /// Adds the job intake as a subscription on the <see cref="GEdgeTriggers.Intake"/> trigger, and the upload path
    /// (<see cref="JobSubmissions"/>, which needs the host's <see cref="IEventPublisher"/>).
    /// </summary>
    public static IServiceCollection AddIntake(this IServiceCollection services)
    {
        services.AddStageCore();
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
        services.AddStageCore();
        services.TryAddSingleton(TimeProvider.System);
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

    /// <summary>Adds a stage's work, run by a <see cref="JobStage"/> subscribed on <paramref name="trigger"/>.</summary>
    public static IServiceCollection AddStage<TWork>(this IServiceCollection services, EventTrigger trigger)
        where TWork : class, IStageWork
    {
        services.AddStageCore();
        services.TryAddSingleton<TWork>();
        services.AddSingleton(provider => new Subscription(
            trigger,
            ActivatorUtilities.CreateInstance<JobStage>(provider, provider.GetRequiredService<TWork>())));
        return services;
    }

    /// <summary>
    /// Adds the pipeline's model manifest (name and folder from the <c>Detector</c> section, as the detector reads them),
    /// unless the host registered one already (Infer registers its detector's).
    /// </summary>
    public static IServiceCollection AddModelManifest(this IServiceCollection services)
    {
        services.TryAddSingleton(provider =>
        {
            var configuration = provider.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>();
            return ModelCatalog.Load(configuration["Detector:Model"] ?? ModelCatalog.DefaultModel, configuration["Detector:ModelsDirectory"]);
        });
        return services;
    }

    private sealed partial class LoggingProgressSink(ILogger<LoggingProgressSink> logger) : IStageProgressSink
    {
        private long _lastLogged;

        public void Report(StageProgress progress)
        {
            // A line every 10 seconds at most: enough to see a long job move, not a line per frame.
            var now = Environment.TickCount64;
            if (now - Interlocked.Read(ref _lastLogged) >= 10_000 || progress.FramesDone == progress.FramesTotal)
            {
                Interlocked.Exchange(ref _lastLogged, now);
                LogProgress(logger, progress.JobId, progress.Stage, progress.FramesDone, progress.FramesTotal);
            }
        }

        [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} {Stage}: {FramesDone}/{FramesTotal} frames")]
        private static partial void LogProgress(ILogger logger, long jobId, GEdge.JobTable.JobStatus stage, int framesDone, int framesTotal);
    }
}
