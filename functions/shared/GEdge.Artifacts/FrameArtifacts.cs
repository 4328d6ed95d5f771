using System.Runtime.CompilerServices;
using System.Text.Json;
using GEdge.Jobs;
using GEdge.Storage;

namespace GEdge.Artifacts;

/// <summary>Reading the artifacts one stage leaves for the next, streamed.</summary>
public static class FrameArtifacts
{
    /// <summary>Reads a segment's frame manifest; a missing one means Preprocess's output is gone, which no retry of a later stage can fix.</summary>
    public static Task<FrameManifest> ReadManifestAsync(IObjectStore store, SegmentArtifacts artifacts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(artifacts);
        return ReadDocumentAsync(store, artifacts.Buckets.Work, artifacts.FrameManifestKey, PipelineJsonContext.Default.FrameManifest, cancellationToken);
    }

    /// <summary>Reads the cut's manifest of a job: the source video's facts and its segments.</summary>
    public static Task<SourceManifest> ReadSourceAsync(IObjectStore store, JobArtifacts artifacts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(artifacts);
        return ReadDocumentAsync(store, artifacts.Buckets.Work, artifacts.SourceManifestKey, PipelineJsonContext.Default.SourceManifest, cancellationToken);
    }

    private static async Task<T> ReadDocumentAsync<T>(IObjectStore store, string bucket, string key, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        await using var stream = await store.OpenReadAsync(bucket, key, cancellationToken).ConfigureAwait(false);
        return await JsonSerializer.DeserializeAsync(stream, type, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"The document {key} is empty.");
    }

    /// <summary>Reads Infer's per-frame detections of a segment, one JSON line at a time, in frame order.</summary>
    public static async IAsyncEnumerable<FrameDetections> ReadDetectionsAsync(
        IObjectStore store,
        SegmentArtifacts artifacts,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(artifacts);
        await using var stream = await store.OpenReadAsync(artifacts.Buckets.Work, artifacts.FrameDetectionsKey, cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length > 0)
            {
                yield return JsonSerializer.Deserialize(line, PipelineJsonContext.Default.FrameDetections)
                    ?? throw new InvalidDataException($"A null line in {artifacts.FrameDetectionsKey}.");
            }
        }
    }
}
