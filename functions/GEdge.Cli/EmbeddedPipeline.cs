using System.Collections.Concurrent;
using System.Globalization;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Stages;
using GEdge.Storage;
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
    private static readonly Uri s_source = new("/gedge/cli", UriKind.Relative);
    private readonly IHost _host;
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _exits = new();

    private EmbeddedPipeline(IHost host)
    {
        _host = host;
        Jobs = host.Services.GetRequiredService<JobTable.JobTable>();
        Store = host.Services.GetRequiredService<IObjectStore>();
        Buckets = host.Services.GetRequiredService<IOptions<BucketOptions>>().Value;
        Router = host.Services.GetRequiredService<InProcessEventRouter>();
        Router.Published += OnPublished;
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
        var host = EmbeddedHost.CreatePipeline(verbose, progress, delivery, settings);
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        return new EmbeddedPipeline(host);
    }

    /// <summary>Uploads a video as <paramref name="user"/> and starts its job; returns the job's id.</summary>
    public async Task<long> SubmitAsync(string videoPath, string user, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(videoPath);
        var key = ObjectKey.ForUpload(user, UploadId(), Path.GetFileName(videoPath));
        var stored = await Store.UploadFileAsync(Buckets.Uploads, key, videoPath, cancellationToken).ConfigureAwait(false);
        var uploaded = GEdgeEvents.CreateVideoUploaded(new VideoUploaded(user, Buckets.Uploads, key, stored.ETag, stored.Size), s_source);

        // The gateway's part: handle the upload event and send its reply (the Enqueue event) to the broker.
        var intake = _host.Services.GetRequiredService<JobIntake>();
        var enqueued = await intake.HandleAsync(uploaded, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"The upload {key} already has a job that has started.");
        var jobId = GEdgeEvents.ReadJobStatusChanged(enqueued).JobId;
        _exits.TryAdd(jobId, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Router.Publish(enqueued);
        return jobId;
    }

    /// <summary>Waits until the job reaches <see cref="JobStatus.Exit"/>, then returns its record.</summary>
    public async Task<Job> WaitForExitAsync(long jobId, CancellationToken cancellationToken = default)
    {
        var exit = _exits.GetOrAdd(jobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        await exit.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await Jobs.GetAsync(jobId).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Job {jobId} vanished from the job table.");
    }

    /// <summary>Copies a finished job's results into a folder: annotated.mp4, detections.json, summary.json.</summary>
    public async Task DownloadResultsAsync(Job job, string folder, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        Directory.CreateDirectory(folder);
        var artifacts = new JobArtifacts(Buckets, job.User, job.Id);
        foreach (var (key, name) in new[]
        {
            (artifacts.AnnotatedVideoKey, "annotated.mp4"),
            (artifacts.DetectionsKey, "detections.json"),
            (artifacts.SummaryKey, "summary.json"),
        })
        {
            await Store.DownloadFileAsync(Buckets.Results, key, Path.Combine(folder, name), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Router.Published -= OnPublished;
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

    private static string UploadId() =>
        string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:yyyyMMddTHHmmss}-{Guid.NewGuid().ToString("N")[..8]}");
}
