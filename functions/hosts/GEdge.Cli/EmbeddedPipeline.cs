using System.Collections.Concurrent;
using System.Text;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Stages;
using GEdge.Storage;
using GEdge.Vision.Onnx;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace GEdge.Cli;

/// <summary>
/// The whole pipeline in this process, used the way a user uses it: submit a video as a user, wait for its job to
/// reach <see cref="JobStatus.Exit"/>, fetch the results. The upload goes through the gateway's intake (the handler of
/// <c>video uploaded</c>), and from there the job moves only by events the router delivers.
/// </summary>
public sealed class EmbeddedPipeline : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _exits = new();
    private readonly DeliveryFailureRecorder _deadLetters;

    private EmbeddedPipeline(IHost host)
    {
        _host = host;
        Jobs = host.Services.GetRequiredService<JobTable.JobTable>();
        Store = host.Services.GetRequiredService<IObjectStore>();
        Buckets = host.Services.GetRequiredService<IOptions<BucketOptions>>().Value;
        Router = host.Services.GetRequiredService<InProcessEventRouter>();
        _deadLetters = host.Services.GetRequiredService<DeliveryFailureRecorder>();
        Router.Published += OnPublished;
        Router.DeadLettered += OnDeadLetteredAsync;
    }

    /// <summary>The job table.</summary>
    public JobTable.JobTable Jobs { get; }

    /// <summary>The object store.</summary>
    public IObjectStore Store { get; }

    /// <summary>The bucket names.</summary>
    public BucketOptions Buckets { get; }

    /// <summary>The event router (observe <see cref="InProcessEventRouter.Published"/> to watch jobs move).</summary>
    public InProcessEventRouter Router { get; }

    /// <summary>Starts the pipeline; <paramref name="settings"/> override configuration (<c>Section:Key</c>).</summary>
    public static async Task<EmbeddedPipeline> StartAsync(
        IStageProgressSink progress,
        IReadOnlyDictionary<string, string?>? settings = null,
        DeliveryOptions? delivery = null,
        bool verbose = false,
        CancellationToken cancellationToken = default)
    {
        IHost host;
        using (StartupTimeline.Activities.StartActivity("host build"))
        {
            host = EmbeddedHost.CreatePipeline(verbose, progress, delivery, settings);
        }

        Task model = Task.CompletedTask;
        try
        {
            // The model session, which takes long to load and needs no job table, loads beside it on a pool thread (the
            // stages' subscribers would otherwise load it in StartAsync, after the job table). Measured with `gedge run
            // --timings` on a five-frame clip: the job table's server and connection take about 230 ms, the session 55 ms.
            model = Task.Run(host.Services.GetRequiredService<ObjectDetector>, cancellationToken);
            // The job table first (the embedded Garnet server starts, or the configured server is reached): its failure,
            // such as another run holding the folder, is then the caller's one exception, before the host starts and
            // would log it with its stack trace.
            host.Services.GetRequiredService<JobTable.JobTable>();
            await model.ConfigureAwait(false);
            using var starting = StartupTimeline.Activities.StartActivity("host start");
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // A job table that cannot start leaves the session loading: it finishes before the host that holds it goes.
            await model.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            host.Dispose();
            throw;
        }

        return new EmbeddedPipeline(host);
    }

    /// <summary>Uploads a video as <paramref name="user"/> and starts its job; returns the job's id.</summary>
    public async Task<long> SubmitAsync(string videoPath, string user, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(videoPath);
        // The gateway's part: store the upload, make its job, and send its Enqueue event to the broker (the router).
        var submission = await _host.Services.GetRequiredService<JobSubmissions>().SubmitAsync(
            user,
            Path.GetFileName(videoPath),
            async (target, ct) =>
            {
                await using var source = File.OpenRead(videoPath);
                await source.CopyToAsync(target, ct).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
        return submission.Job.Id;
    }

    /// <summary>Waits until the job reaches <see cref="JobStatus.Exit"/>, then returns its record.</summary>
    public async Task<Job> WaitForExitAsync(long jobId, CancellationToken cancellationToken = default)
    {
        var exit = _exits.GetOrAdd(jobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        await exit.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await Jobs.GetAsync(jobId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Job {jobId} vanished from the job table.");
    }

    /// <summary>
    /// Cancels a job for its user, as <c>DELETE /api/jobs/ID</c> does (<see cref="JobEnding.CancelAsync"/>): it ends in
    /// Exit with <see cref="JobEnding.CancelledReason"/>, its intermediates removed and its Exit announced. False when the
    /// job had ended already.
    /// </summary>
    public async Task<bool> CancelAsync(long jobId)
    {
        if (await Jobs.GetAsync(jobId).ConfigureAwait(false) is not { } job
            || await _host.Services.GetRequiredService<JobEnding>().CancelAsync(job).ConfigureAwait(false) is not { } exit)
        {
            return false;
        }

        await Router.PublishAsync(exit, CancellationToken.None).ConfigureAwait(false);
        return true;
    }

    /// <summary>The reason a job of an earlier run ends with when <see cref="EndEarlierRunsAsync"/> finds it unfinished.</summary>
    public const string OrphanedReason = "the gedge run that started it ended before the job did (it was killed, or its machine stopped)";

    /// <summary>
    /// Clears what earlier runs in this folder left behind, before this run's job starts. On the embedded job table, which
    /// a run holds alone (its data folder's lock), a job that has not ended belongs to a run that is gone: nobody waits
    /// for it, so it ends with <see cref="OrphanedReason"/>, its intermediates removed. Then every job's intermediates that
    /// are still in the work bucket go if the job has ended, or if this table does not know it. On a job table server that
    /// others share (<c>JobTable:ConnectionString</c>) only the intermediates of ended jobs go: its unfinished jobs may be
    /// another process's.
    /// </summary>
    /// <returns>How many jobs were ended, and how many jobs' intermediates removed.</returns>
    public async Task<(int Ended, int Cleared)> EndEarlierRunsAsync(CancellationToken cancellationToken = default)
    {
        var exclusive = string.IsNullOrWhiteSpace(_host.Services.GetRequiredService<IOptions<JobTableOptions>>().Value.ConnectionString);
        var ending = _host.Services.GetRequiredService<JobEnding>();
        var ended = 0;
        if (exclusive)
        {
            foreach (var status in Enum.GetValues<JobStatus>().Where(status => status != JobStatus.Exit))
            {
                // One pass per batch; a job that cannot be ended (gone meanwhile) is not listed again.
                IReadOnlyList<Job> batch;
                var seen = new HashSet<long>();
                while ((batch = await Jobs.ListByStatusAsync(status, StuckJobSweeper.BatchSize).ConfigureAwait(false)).Any(job => seen.Add(job.Id)))
                {
                    foreach (var job in batch)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        ended += await ending.EndWithErrorAsync(job, OrphanedReason).ConfigureAwait(false) is null ? 0 : 1;
                    }
                }
            }
        }

        // Finding the jobs is a listing by nature (what a killed run left, that nothing recorded); each job's
        // intermediates then go as every removal goes, by what its manifests name.
        var removal = _host.Services.GetRequiredService<ArtifactRemoval>();
        var cleared = 0;
        foreach (var id in await JobArtifacts.JobsWithIntermediatesAsync(Store, Buckets, cancellationToken).ConfigureAwait(false))
        {
            var job = await Jobs.GetAsync(id).ConfigureAwait(false);
            if (job is { Status: JobStatus.Exit } || (job is null && exclusive))
            {
                // A job the table does not know has no user to name; its intermediates' keys do not need one.
                await removal.RemoveIntermediatesAsync(new JobArtifacts(Buckets, job?.User ?? string.Empty, id), cancellationToken: cancellationToken).ConfigureAwait(false);
                cleared++;
            }
        }

        return (ended, cleared);
    }

    /// <summary>Copies a finished job's results into a folder: annotated.mp4, detections.json, summary.json.</summary>
    public async Task DownloadResultsAsync(Job job, string folder, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        Directory.CreateDirectory(folder);
        var artifacts = new JobArtifacts(Buckets, job.User, job.Id);
        foreach (var name in JobArtifacts.ResultFiles)
        {
            await Store.DownloadFileAsync(Buckets.Results, artifacts.ResultKey(name), Path.Combine(folder, name), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Router.Published -= OnPublished;
        Router.DeadLettered -= OnDeadLetteredAsync;
        await _host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (_host is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            _host.Dispose();
        }
    }

    private void OnPublished(CloudNative.CloudEvents.CloudEvent cloudEvent)
    {
        if (cloudEvent.Type == GEdgeEvents.JobStatusChangedType && cloudEvent[GEdgeEvents.JobStatusAttribute] as string == nameof(JobStatus.Exit))
        {
            var change = GEdgeEvents.ReadJobStatusChanged(cloudEvent);
            _exits.GetOrAdd(change.JobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }

    // The embedded router's dead-letter sink is the cluster's: the event, marked as a broker marks a dead letter, goes
    // to the recorder, which ends the job (and publishes its Exit, which ends the wait) if nobody else can.
    private async Task OnDeadLetteredAsync(CloudNative.CloudEvents.CloudEvent cloudEvent, EventTrigger trigger, Exception error)
    {
        DeadLetterAttributes.Set(cloudEvent, new Uri($"inprocess://{trigger.Subscriber}"), null, Encoding.UTF8.GetBytes(error.Message));
        try
        {
            await _deadLetters.RecordAsync(cloudEvent, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (cloudEvent.Type == GEdgeEvents.JobStatusChangedType)
        {
            // What dead-letters an event is usually the job table failing, and then recording fails too: whoever waits
            // for the job is told, rather than left waiting for an Exit that cannot come.
            var change = GEdgeEvents.ReadJobStatusChanged(cloudEvent);
            _exits.GetOrAdd(change.JobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetException(
                new InvalidOperationException($"Job {change.JobId}'s {change.Status} event could not be delivered ({error.Message}) nor recorded ({e.Message}).", e));
        }
    }
}
