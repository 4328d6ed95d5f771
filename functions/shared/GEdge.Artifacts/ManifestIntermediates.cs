using System.Text.Json;
using GEdge.Jobs;
using GEdge.Storage;

namespace GEdge.Artifacts;

/// <summary>
/// A job's intermediates as its stages' manifests name them: the cut's <c>source.json</c> names the segments, and each
/// segment's <c>frames.json</c> its frame chunks; a segment's other intermediates have fixed names
/// (<see cref="SegmentArtifacts"/>). A manifest that was never written (its stage's attempt died or was stopped first)
/// is made up for by asking for the keys its stage writes one after another until the first that does not exist: the cut
/// uploads segment videos 0, 1, … before <c>source.json</c>, and Preprocess writes raw chunks 0, 1, … (or its one compact
/// stream, <see cref="SegmentArtifacts.FramesVideoKey"/>, always named) before <c>frames.json</c>, each published whole or
/// not at all, so what an attempt left is a run from 0 with no gap. (Not when a removal ran while the attempt still
/// wrote, deleting the first of them: the attempt then names the rest itself, <see cref="WrittenKeys"/>.)
/// </summary>
public sealed class ManifestIntermediates(IObjectStore store) : IJobIntermediates
{
    // Segments' manifests are read a few at a time: an hour of video has hundreds.
    private const int Concurrency = 8;

    /// <inheritdoc />
    public async Task<IntermediateKeys> KeysAsync(JobArtifacts job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var work = job.Buckets.Work;
        var source = await TryReadAsync(work, job.SourceManifestKey, PipelineJsonContext.Default.SourceManifest, cancellationToken).ConfigureAwait(false);
        var segmentCount = source?.SegmentStarts.Count
            ?? (await WrittenInOrderAsync(work, index => job.Segment(index).VideoKey, cancellationToken).ConfigureAwait(false)).Count;

        var chunks = new IReadOnlyList<string>[segmentCount];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, segmentCount),
            new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken },
            async (index, ct) =>
            {
                var segment = job.Segment(index);
                var frames = await TryReadAsync(work, segment.FrameManifestKey, PipelineJsonContext.Default.FrameManifest, ct).ConfigureAwait(false);
                chunks[index] = frames is not null
                    ? [.. frames.Chunks.Select(chunk => chunk.Key)]
                    : await WrittenInOrderAsync(work, segment.FrameChunkKey, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);

        var objects = new List<string>();
        var segmentManifests = new List<string>(segmentCount);
        for (var index = 0; index < segmentCount; index++)
        {
            var segment = job.Segment(index);
            objects.AddRange(chunks[index]);
            // The compact stream is written whole or not at all before the manifest, so it is named whether or not one was.
            if (!chunks[index].Contains(segment.FramesVideoKey))
            {
                objects.Add(segment.FramesVideoKey);
            }

            objects.Add(segment.VideoKey);
            objects.Add(segment.FrameDetectionsKey);
            objects.Add(segment.AnnotatedVideoKey);
            segmentManifests.Add(segment.FrameManifestKey);
        }

        return new IntermediateKeys([objects, segmentManifests, [job.SourceManifestKey]]);
    }

    private async Task<T?> TryReadAsync<T>(string bucket, string key, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            await using var stream = await store.OpenReadAsync(bucket, key, cancellationToken).ConfigureAwait(false);
            return await JsonSerializer.DeserializeAsync(stream, type, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException)
        {
            return null;
        }
    }

    private async Task<IReadOnlyList<string>> WrittenInOrderAsync(string bucket, Func<int, string> keyOf, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        while (await store.StatAsync(bucket, keyOf(keys.Count), cancellationToken).ConfigureAwait(false) is not null)
        {
            keys.Add(keyOf(keys.Count));
        }

        return keys;
    }
}
