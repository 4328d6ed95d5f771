using GEdge.Metrics;
using GEdge.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Jobs;

/// <summary>What <see cref="ArtifactRemoval"/> deleted: the keys it knew of, and what only the listing behind them found.</summary>
/// <param name="Named">Keys deleted because the job's records name them (its manifests, its result files); deleting one
/// that was never written costs a request and changes nothing.</param>
/// <param name="Unnamed">Objects under the job's prefix that no record named, found by the listing that follows and
/// deleted: each is logged as a warning and counted, since it means a stage wrote something its manifest does not say.</param>
public readonly record struct ArtifactsRemoved(int Named, int Unnamed);

/// <summary>
/// Removes a job's objects from storage by their keys, the way every part of G-Edge does it: a job's intermediates by
/// what its manifests name (<see cref="IJobIntermediates"/>), its results by their file names. A listing of the job's
/// prefix follows as a safety net; what it finds is logged and counted (<c>gedge_artifacts_unnamed_total</c>), and a removal
/// that fails is logged and counted (<c>gedge_artifact_removal_failures_total</c>) before it is thrown: never silent.
/// </summary>
public sealed partial class ArtifactRemoval
{
    private readonly IObjectStore _store;
    private readonly IJobIntermediates _intermediates;
    private readonly ILogger _logger;
    private readonly GEdgeMetrics _metrics;

    /// <summary>Creates the removal on <paramref name="store"/>, counting on <paramref name="metrics"/>.</summary>
    public ArtifactRemoval(IObjectStore store, IJobIntermediates intermediates, GEdgeMetrics metrics, ILogger<ArtifactRemoval> logger)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        _store = store;
        _intermediates = intermediates;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>
    /// Removes <paramref name="job"/>'s intermediates from the work bucket: what every way a job ends does. A stage whose
    /// job ended under it also names what its attempt wrote (<paramref name="alsoWritten"/>, a <see cref="WrittenKeys"/>).
    /// </summary>
    public Task<ArtifactsRemoved> RemoveIntermediatesAsync(JobArtifacts job, IReadOnlyList<string>? alsoWritten = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        return RemoveAsync(job.JobId, ArtifactKind.Intermediates, job.Buckets.Work, job.WorkPrefix, async ct =>
        {
            var keys = await _intermediates.KeysAsync(job, ct).ConfigureAwait(false);
            // What the attempt wrote goes first, with the objects: the manifests stay the last to go.
            return alsoWritten is { Count: > 0 } ? new IntermediateKeys([alsoWritten, .. keys.Waves]) : keys;
        }, cancellationToken);
    }

    /// <summary>Removes <paramref name="job"/>'s results from the results bucket (a user deleting an ended job).</summary>
    public Task<ArtifactsRemoved> RemoveResultsAsync(JobArtifacts job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        var keys = new IntermediateKeys([[.. JobArtifacts.ResultFiles.Select(job.ResultKey)]]);
        return RemoveAsync(job.JobId, ArtifactKind.Results, job.Buckets.Results, job.ResultPrefix, _ => Task.FromResult(keys), cancellationToken);
    }

    private async Task<ArtifactsRemoved> RemoveAsync(
        long jobId, string what, string bucket, string prefix, Func<CancellationToken, Task<IntermediateKeys>> named, CancellationToken cancellationToken)
    {
        try
        {
            var keys = await named(cancellationToken).ConfigureAwait(false);
            foreach (var wave in keys.Waves)
            {
                await _store.DeleteAllAsync(bucket, wave, cancellationToken).ConfigureAwait(false);
            }

            var unnamed = await _store.DeletePrefixAsync(bucket, prefix, cancellationToken).ConfigureAwait(false);
            if (unnamed.Count > 0)
            {
                LogUnnamed(jobId, what, unnamed.Count, bucket, prefix, string.Join(", ", unnamed.Take(5)));
                _metrics.UnnamedArtifacts(what, unnamed.Count);
            }

            return new ArtifactsRemoved(keys.Count, unnamed.Count);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFailed(e, jobId, what, bucket, prefix);
            _metrics.RemovalFailed(what);
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId}: the listing of {Bucket}/{Prefix} found {Count} {What} that the job's records do not name (deleted): {Keys}")]
    private partial void LogUnnamed(long jobId, string what, int count, string bucket, string prefix, string keys);

    [LoggerMessage(Level = LogLevel.Error, Message = "{JobId}: removing its {What} under {Bucket}/{Prefix} failed; what was not deleted stays there")]
    private partial void LogFailed(Exception exception, long jobId, string what, string bucket, string prefix);
}
