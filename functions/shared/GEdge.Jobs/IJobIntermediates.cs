namespace GEdge.Jobs;

/// <summary>
/// The keys of a job's intermediates in the work bucket, in waves: each wave is deleted only once the one before it is
/// gone. The manifests that name the other objects come in the last waves, so a removal cut short (a store that failed,
/// a process stopped) can be done again from them.
/// </summary>
public sealed record IntermediateKeys(IReadOnlyList<IReadOnlyList<string>> Waves)
{
    /// <summary>How many keys, in every wave.</summary>
    public int Count => Waves.Sum(wave => wave.Count);
}

/// <summary>
/// What a job's stages wrote to the work bucket, as their own records say: what the removal of a job's intermediates
/// goes by, so that it never depends on a listing of the bucket. A listing can come back wrong and silent (s3rver's
/// ListObjectsV2 reads as empty to the Minio client, so a removal by listing left every frame of every job behind).
/// Implemented where the stages' manifests are known (<c>GEdge.Artifacts</c>); every host that ends jobs registers it.
/// </summary>
public interface IJobIntermediates
{
    /// <summary>The keys of <paramref name="job"/>'s intermediates, including any its manifests' stages may have written without them.</summary>
    Task<IntermediateKeys> KeysAsync(JobArtifacts job, CancellationToken cancellationToken);
}
