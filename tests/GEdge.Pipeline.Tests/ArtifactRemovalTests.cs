using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using GEdge.Artifacts;
using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Metrics;
using GEdge.Storage;
using GEdge.Testing;
using GEdge.Vision;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace GEdge.Pipeline.Tests;

/// <summary>
/// A job's intermediates go by what its manifests name, not by a listing of the work bucket: on a store whose listing
/// shows nothing (what s3rver's ListObjectsV2 looks like to the Minio client) nothing of the job is left on disk. What
/// only the listing finds, and a removal that fails, are logged and counted.
/// </summary>
public sealed class ArtifactRemovalTests : IDisposable
{
    private const long JobId = 7;
    private readonly TempFolder _folder = new("gedge-removal-");
    private readonly LocalFolderObjectStore _disk;
    private readonly BucketOptions _buckets = new();
    private JobArtifacts _job;
    private readonly GEdgeMetrics _metrics = new();
    private readonly FakeLogCollector _logs = new();

    public ArtifactRemovalTests()
    {
        _disk = new LocalFolderObjectStore(_folder.Path);
        _job = new JobArtifacts(_buckets, "alice", JobId);
    }

    public void Dispose()
    {
        _folder.Dispose();
    }

    private string JobFolder => Path.Combine(_folder.Path, _buckets.Work, "jobs", JobId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task EveryIntermediateAJobsManifestsName_IsRemoved_WhenTheListingShowsNothing()
    {
        await WriteCutAsync(segments: 2);
        for (var segment = 0; segment < 2; segment++)
        {
            await WriteFramesAsync(segment, chunks: 3, manifest: true);
            await WriteAsync(_job.Segment(segment).FrameDetectionsKey);
            await WriteAsync(_job.Segment(segment).AnnotatedVideoKey);
        }

        await WriteAsync("jobs/70/source.json");

        var removed = await Removal(new ListsNothing(_disk)).RemoveIntermediatesAsync(_job);

        Assert.False(Directory.Exists(JobFolder), string.Join(", ", FilesUnder(JobFolder)));
        Assert.Equal(new ArtifactsRemoved(Named: 1 + (2 * (3 + 5)), Unnamed: 0), removed);
        Assert.NotNull(await _disk.StatAsync(_buckets.Work, "jobs/70/source.json"));
    }

    [Fact]
    public async Task WhatAnAttemptWroteBeforeItsManifest_IsFoundInTheOrderItIsWritten_WithoutAListing()
    {
        // A cut that died after uploading three segments' videos, before source.json; a Preprocess of segment 1 that
        // died after four raw chunks, and one of segment 2 after its compact stream, each before frames.json.
        for (var segment = 0; segment < 3; segment++)
        {
            await WriteAsync(_job.Segment(segment).VideoKey);
        }

        await WriteFramesAsync(1, chunks: 4, manifest: false);
        await WriteAsync(_job.Segment(2).FramesVideoKey);

        var removed = await Removal(new ListsNothing(_disk)).RemoveIntermediatesAsync(_job);

        Assert.False(Directory.Exists(JobFolder), string.Join(", ", FilesUnder(JobFolder)));
        Assert.Equal(0, removed.Unnamed);
    }

    [Fact]
    public async Task WhatAnAttemptWroteAfterTheJobsRemovalRan_GoesByTheAttemptsOwnRecord()
    {
        // The job was cancelled while segment 0's frames were being written: its removal deleted chunks 0-4, and the
        // attempt wrote 5-8 before it noticed. No manifest names them, and the run of keys no longer starts at 0.
        await WriteCutAsync(segments: 1);
        var written = new WrittenKeys();
        for (var chunk = 5; chunk < 9; chunk++)
        {
            await WriteAsync(_job.Segment(0).FrameChunkKey(chunk));
            written.Add(_job.Segment(0).FrameChunkKey(chunk));
        }

        var removal = Removal(new ListsNothing(_disk));
        await removal.RemoveIntermediatesAsync(_job);
        Assert.Equal(4, FilesUnder(JobFolder).Count());

        await removal.RemoveIntermediatesAsync(_job, written.Keys);

        Assert.False(Directory.Exists(JobFolder), string.Join(", ", FilesUnder(JobFolder)));
    }

    [Fact]
    public async Task WhatNoManifestNames_IsFoundByTheListingBehind_DeletedLoggedAndCounted()
    {
        await WriteCutAsync(segments: 1);
        await WriteFramesAsync(0, chunks: 1, manifest: true);
        await WriteAsync("jobs/7/segments/000000/stray.bin");

        var removed = await Removal(_disk).RemoveIntermediatesAsync(_job);

        Assert.Equal(1, removed.Unnamed);
        Assert.False(Directory.Exists(JobFolder));
        Assert.Equal(1, (await MetricSamples.ReadAsync(_metrics))["gedge_artifacts_unnamed_total{kind=\"intermediates\"}"]);
        var warning = Assert.Single(_logs.GetSnapshot(), record => record.Level == LogLevel.Warning);
        Assert.Contains("jobs/7/segments/000000/stray.bin", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARemovalThatFails_IsLoggedAndCounted_ThenThrown()
    {
        await WriteCutAsync(segments: 1);

        await Assert.ThrowsAsync<IOException>(() => Removal(new DeletesNothing(_disk)).RemoveIntermediatesAsync(_job));

        Assert.Equal(1, (await MetricSamples.ReadAsync(_metrics))["gedge_artifact_removal_failures_total{kind=\"intermediates\"}"]);
        var error = Assert.Single(_logs.GetSnapshot(), record => record.Level == LogLevel.Error);
        Assert.IsType<IOException>(error.Exception);
        Assert.NotNull(await _disk.StatAsync(_buckets.Work, _job.SourceManifestKey));
    }

    [Fact]
    public async Task AJobWhoseIntermediatesCannotBeRemoved_StillEnds_AndItsExitIsAnnounced()
    {
        await using var garnet = GarnetTestServer.Start();
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["JobTable:ConnectionString"] = garnet.ConnectionString }).Build();
        await using var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(settings)
            .AddLogging(logging => logging.AddProvider(new FakeLoggerProvider(_logs)))
            .AddJobTable(settings)
            .AddSingleton<IObjectStore>(new DeletesNothing(_disk))
            .AddJobIntermediates()
            .AddJobCore()
            .BuildServiceProvider();
        var jobs = services.GetRequiredService<JobTable.JobTable>();
        var job = (await jobs.CreateAsync(new NewJob("alice", "uploads/alice/clip.mp4", "mp4", "v1"))).Job;
        _job = new JobArtifacts(_buckets, "alice", job.Id);
        await WriteCutAsync(segments: 1);

        var exit = await services.GetRequiredService<JobEnding>().EndWithErrorAsync(job, "the test ends it");

        Assert.NotNull(exit);
        Assert.Equal(JobStatus.Exit, (await jobs.GetAsync(job.Id))!.Status);
        Assert.Contains(_logs.GetSnapshot(), record => record.Level == LogLevel.Error && record.Exception is IOException);
    }

    [Fact]
    public async Task AJobsResults_GoByTheirFileNames_WhenTheListingShowsNothing()
    {
        foreach (var name in JobArtifacts.ResultFiles)
        {
            await _disk.WriteAsync(_buckets.Results, _job.ResultKey(name), (stream, ct) => stream.WriteAsync("x"u8.ToArray(), ct).AsTask());
        }

        var removed = await Removal(new ListsNothing(_disk)).RemoveResultsAsync(_job);

        Assert.Equal(new ArtifactsRemoved(JobArtifacts.ResultFiles.Count, 0), removed);
        Assert.False(Directory.Exists(Path.Combine(_folder.Path, _buckets.Results, "alice")));
    }

    private ArtifactRemoval Removal(IObjectStore store) =>
        new(store, new ManifestIntermediates(store), _metrics, new FakeLogger<ArtifactRemoval>(_logs));

    // The cut: each segment's video, then source.json naming them, as PreprocessWork.CutAsync writes them.
    private async Task WriteCutAsync(int segments)
    {
        for (var segment = 0; segment < segments; segment++)
        {
            await WriteAsync(_job.Segment(segment).VideoKey);
        }

        var video = new SourceVideo(1280, 720, "30/1", 30, 300 * segments, 10 * segments, HasAudio: false, "h264");
        var source = new SourceManifest(JobId, "yolox_nano", video, [.. Enumerable.Range(0, segments).Select(i => i * 10.0)]);
        await _disk.WriteAsync(_buckets.Work, _job.SourceManifestKey, (stream, ct) => JsonSerializer.SerializeAsync(stream, source, PipelineJsonContext.Default.SourceManifest, ct));
    }

    // A segment's chunks, then (when the attempt lived) the frames.json naming them.
    private async Task WriteFramesAsync(int segment, int chunks, bool manifest)
    {
        var artifacts = _job.Segment(segment);
        var keys = new List<FrameChunk>();
        for (var chunk = 0; chunk < chunks; chunk++)
        {
            await WriteAsync(artifacts.FrameChunkKey(chunk));
            keys.Add(new FrameChunk(artifacts.FrameChunkKey(chunk), chunk * 32, 32, [.. Enumerable.Range(0, 32).Select(i => i / 30.0)]));
        }

        if (manifest)
        {
            var letterbox = LetterboxTransform.Create(1280, 720, 416, 416, default);
            var video = new SourceVideo(1280, 720, "30/1", 30, 300, 10, HasAudio: false, "h264");
            var frames = new FrameManifest(JobId, "yolox_nano", video, letterbox, FrameBand.Of(letterbox), chunks * 32, keys);
            await _disk.WriteAsync(_buckets.Work, artifacts.FrameManifestKey, (stream, ct) => JsonSerializer.SerializeAsync(stream, frames, PipelineJsonContext.Default.FrameManifest, ct));
        }
    }

    private Task<ObjectInfo> WriteAsync(string key) =>
        _disk.WriteAsync(_buckets.Work, key, (stream, ct) => stream.WriteAsync(Encoding.UTF8.GetBytes(key), ct).AsTask());

    private static IEnumerable<string> FilesUnder(string folder) =>
        Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories) : [];

    /// <summary>A store whose listing comes back empty, as s3rver 3.7.1's ListObjectsV2 reads to the Minio client.</summary>
    private sealed class ListsNothing(IObjectStore inner) : ForwardingStore(inner)
    {
        public override async IAsyncEnumerable<ObjectInfo> ListAsync(string bucket, string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.CompletedTask;
            yield break;
        }
    }

    /// <summary>A store that cannot delete (its server unreachable for deletes).</summary>
    private sealed class DeletesNothing(IObjectStore inner) : ForwardingStore(inner)
    {
        public override Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken = default) =>
            throw new IOException("the store is unreachable");
    }

    private abstract class ForwardingStore(IObjectStore inner) : IObjectStore
    {
        public Task<ObjectInfo> WriteAsync(string bucket, string key, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(bucket, key, write, cancellationToken);

        public Task<Stream> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken = default) =>
            inner.OpenReadAsync(bucket, key, cancellationToken);

        public Task<Stream> OpenReadFromAsync(string bucket, string key, long offset, CancellationToken cancellationToken = default) =>
            inner.OpenReadFromAsync(bucket, key, offset, cancellationToken);

        public Task<LocalFileLease> GetLocalFileAsync(string bucket, string key, CancellationToken cancellationToken = default) =>
            inner.GetLocalFileAsync(bucket, key, cancellationToken);

        public Task<ObjectInfo?> StatAsync(string bucket, string key, CancellationToken cancellationToken = default) =>
            inner.StatAsync(bucket, key, cancellationToken);

        public virtual IAsyncEnumerable<ObjectInfo> ListAsync(string bucket, string prefix, CancellationToken cancellationToken = default) =>
            inner.ListAsync(bucket, prefix, cancellationToken);

        public virtual Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken = default) =>
            inner.DeleteAsync(bucket, key, cancellationToken);

        public Task<int> DeleteUnfinishedAsync(string bucket, string prefix, CancellationToken cancellationToken = default) =>
            inner.DeleteUnfinishedAsync(bucket, prefix, cancellationToken);
    }
}
