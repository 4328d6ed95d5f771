using System.Collections.Concurrent;
using GEdge.Cli;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Stages;

namespace GEdge.Pipeline.Tests;

/// <summary>
/// One embedded pipeline for a test class: Garnet and the object store in a temp folder that is deleted after, and a
/// record of every status event the router carried, by job.
/// </summary>
public class PipelineFixture : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("gedge-pipeline-").FullName;
    private readonly ConcurrentDictionary<long, ConcurrentQueue<JobStatus>> _events = new();

    public EmbeddedPipeline Pipeline { get; private set; } = null!;

    public string Root => _root;

    protected virtual DeliveryOptions Delivery => new() { BackoffDelay = TimeSpan.FromMilliseconds(20) };

    /// <summary>Settings beyond the job table's and the storage's folders.</summary>
    protected virtual IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>();

    public async Task InitializeAsync()
    {
        Pipeline = await EmbeddedPipeline.StartAsync(
            new NoProgress(),
            new Dictionary<string, string?>(Settings)
            {
                ["JobTable:Embedded:DataPath"] = Path.Combine(_root, "garnet"),
                ["Storage:Local:Root"] = Path.Combine(_root, "storage"),
            },
            Delivery);
        Pipeline.Router.Published += cloudEvent =>
        {
            if (cloudEvent.Type == GEdgeEvents.JobStatusChangedType)
            {
                var change = GEdgeEvents.ReadJobStatusChanged(cloudEvent);
                _events.GetOrAdd(change.JobId, _ => new ConcurrentQueue<JobStatus>()).Enqueue(change.Status);
            }
        };
    }

    public async Task DisposeAsync()
    {
        await Pipeline.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>The status events the router carried for a job, in order.</summary>
    public IReadOnlyList<JobStatus> EventsOf(long jobId) => _events.TryGetValue(jobId, out var queue) ? [.. queue] : [];

    /// <summary>Submits a video as <paramref name="user"/> and waits (at most two minutes) for its job to end.</summary>
    public async Task<Job> RunAsync(string videoPath, string user)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var jobId = await Pipeline.SubmitAsync(videoPath, user, timeout.Token);
        return await Pipeline.WaitForExitAsync(jobId, timeout.Token);
    }

    /// <summary>Every object left in the work bucket (intermediates).</summary>
    public async Task<List<string>> IntermediatesAsync(long jobId)
    {
        var keys = new List<string>();
        await foreach (var item in Pipeline.Store.ListAsync(Pipeline.Buckets.Work, $"jobs/{jobId}/"))
        {
            keys.Add(item.Key);
        }

        return keys;
    }

    private sealed class NoProgress : IStageProgressSink
    {
        public void Report(StageProgress progress)
        {
        }
    }
}

/// <summary>A pipeline whose router delivers every event twice, as an at-least-once broker may.</summary>
public sealed class DuplicatingPipelineFixture : PipelineFixture
{
    protected override DeliveryOptions Delivery => new() { BackoffDelay = TimeSpan.FromMilliseconds(20), DuplicateDeliveries = true };
}

/// <summary>A pipeline that cuts videos into segments of about a second: a short clip becomes several.</summary>
public sealed class ShortSegmentsPipelineFixture : PipelineFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Segments:Seconds"] = "1" };
}

/// <summary>A pipeline whose segments are longer than any test video: every video is one segment, as a whole.</summary>
public sealed class WholeVideoPipelineFixture : PipelineFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Segments:Seconds"] = "100000" };
}

/// <summary>As <see cref="WholeVideoPipelineFixture"/>, but the frames cross from Preprocess to Infer raw, as before the compact boundary.</summary>
public sealed class RawFramesPipelineFixture : PipelineFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Segments:Seconds"] = "100000",
        ["Preprocess:FrameCodec"] = "Raw",
    };
}
