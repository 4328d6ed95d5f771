using GEdge.Contracts;
using GEdge.Events;
using GEdge.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace GEdge.Stages;

/// <summary>Registers stages: each as a <see cref="Subscription"/> (its trigger and its handler) for whatever host routes events to it.</summary>
public static partial class StageServiceCollectionExtensions
{
    /// <summary>
    /// The tag of the health checks a function's <c>/readyz</c> runs; a stage that needs more than its subscribers built
    /// to take an event adds a check with it (Infer: its model loaded).
    /// </summary>
    public const string ReadinessTag = "ready";

    /// <summary>
    /// Adds what every stage shares: the job core (<see cref="JobsServiceCollectionExtensions.AddJobCore"/>), a progress
    /// sink that logs when the host brings none, and the shutdown watch (<see cref="StageShutdown"/>).
    /// </summary>
    public static IServiceCollection AddStageCore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddJobCore();
        services.TryAddSingleton<IStageProgressSink, LoggingProgressSink>();
        services.TryAddSingleton<StageShutdown>();
        return services;
    }

    /// <summary>
    /// Adds <paramref name="stage"/>'s work, run by one <see cref="JobStage"/> subscribed on every trigger of the stage's
    /// function (<see cref="GEdgeTriggers.Of"/>: its segments', and the cut or the join). The work must be that stage's.
    /// </summary>
    public static IServiceCollection AddStage<TWork>(this IServiceCollection services, PipelineStage stage)
        where TWork : class, IStageWork
    {
        ArgumentNullException.ThrowIfNull(stage);
        services.AddStageCore();
        services.TryAddSingleton<TWork>();
        services.TryAddSingleton(provider =>
        {
            var work = provider.GetRequiredService<TWork>();
            return work.Stage == stage
                // The publisher is resolved when first used: in one process, it is the router that delivers to this stage.
                ? new StageRunner<TWork>(ActivatorUtilities.CreateInstance<JobStage>(provider, work, new Lazy<IEventPublisher>(provider.GetRequiredService<IEventPublisher>)))
                : throw new InvalidOperationException($"{typeof(TWork).Name} is the work of the {work.Stage} stage, not of {stage}.");
        });
        foreach (var trigger in GEdgeTriggers.Of(stage))
        {
            services.AddSingleton(provider => new Subscription(trigger, provider.GetRequiredService<StageRunner<TWork>>().Stage));
        }

        // The process says it runs the stage, for an edge's capacity.
        services.AddSingleton<IHostedService>(provider => ActivatorUtilities.CreateInstance<StagePresence>(provider, stage));
        return services;
    }

    // One JobStage per work, however many triggers lead to it.
    private sealed record StageRunner<TWork>(JobStage Stage)
        where TWork : class, IStageWork;

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
                LogProgress(logger, progress.JobId, progress.Stage, progress.Segment, progress.FramesDone, progress.FramesTotal);
            }
        }

        [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} {Stage} segment {Segment}: {FramesDone}/{FramesTotal} frames")]
        private static partial void LogProgress(ILogger logger, long jobId, GEdge.Contracts.JobStatus stage, int segment, int framesDone, int framesTotal);
    }
}
