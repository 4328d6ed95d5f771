namespace GEdge.Storage;

/// <summary>What a store knows of one object.</summary>
public sealed record ObjectInfo(string Bucket, string Key, long Size, string ETag, DateTimeOffset LastModified);

/// <summary>
/// Object storage as the stages see it: buckets of objects addressed by validated keys. Reads and writes are
/// streamed; an object becomes visible only once it is completely written, so a reader never sees half an object.
/// </summary>
public interface IObjectStore
{
    /// <summary>
    /// Writes an object by running <paramref name="write"/> on a stream; the object is published only when the
    /// callback completes. If it throws, nothing is published and any earlier object under the key stays.
    /// </summary>
    Task<ObjectInfo> WriteAsync(string bucket, string key, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default);

    /// <summary>Opens an object for streaming reads; throws <see cref="ObjectNotFoundException"/> if it does not exist.</summary>
    Task<Stream> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens an object for streaming reads from byte <paramref name="offset"/> to its end (a ranged read, so nothing
    /// before the offset is transferred); throws <see cref="ObjectNotFoundException"/> if it does not exist.
    /// <paramref name="offset"/> must be less than the object's size.
    /// </summary>
    Task<Stream> OpenReadFromAsync(string bucket, string key, long offset, CancellationToken cancellationToken = default);

    /// <summary>
    /// A file on local disk holding the object, for tools that need a seekable path (ffmpeg reading an MP4 whose
    /// index sits at the end). A folder store hands out the object's own file; a remote store downloads it to a
    /// temporary file, streamed, that disposing the lease deletes.
    /// </summary>
    Task<LocalFileLease> GetLocalFileAsync(string bucket, string key, CancellationToken cancellationToken = default);

    /// <summary>The object's size and etag, or null if it does not exist.</summary>
    Task<ObjectInfo?> StatAsync(string bucket, string key, CancellationToken cancellationToken = default);

    /// <summary>The objects whose keys start with <paramref name="prefix"/>, in key order.</summary>
    IAsyncEnumerable<ObjectInfo> ListAsync(string bucket, string prefix, CancellationToken cancellationToken = default);

    /// <summary>Deletes an object; deleting one that does not exist is not an error.</summary>
    Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes what writers that died left under <paramref name="prefix"/>: writes that were never published (a process
    /// killed in the middle of <see cref="WriteAsync"/>), which no listing shows. Called once whatever wrote there has
    /// stopped (a job that ended). A store that keeps nothing of an unfinished write has nothing to do; S3 leaves an
    /// incomplete multipart upload, which the bucket's lifecycle rule (AbortIncompleteMultipartUpload) removes.
    /// </summary>
    /// <returns>How many unfinished writes were removed.</returns>
    Task<int> DeleteUnfinishedAsync(string bucket, string prefix, CancellationToken cancellationToken = default) => Task.FromResult(0);
}

/// <summary>A local file that holds an object's bytes for as long as the lease is not disposed.</summary>
public sealed class LocalFileLease(string path, bool deleteOnDispose) : IAsyncDisposable
{
    /// <summary>The file's full path.</summary>
    public string Path { get; } = path;

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (deleteOnDispose)
        {
            File.Delete(Path);
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>The object asked for does not exist.</summary>
public sealed class ObjectNotFoundException(string bucket, string key)
    : FileNotFoundException($"Object '{key}' does not exist in bucket '{bucket}'.");

/// <summary>Ways of using a store that every implementation shares.</summary>
public static class ObjectStoreExtensions
{
    /// <summary>
    /// Deletes the objects <paramref name="keys"/> names, a few requests at a time (S3 deletes one key per request, and a
    /// job's intermediates run to thousands); deleting one that does not exist is not an error.
    /// </summary>
    public static Task DeleteAllAsync(this IObjectStore store, string bucket, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return Parallel.ForEachAsync(
            keys,
            new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (key, ct) => await store.DeleteAsync(bucket, key, ct).ConfigureAwait(false));
    }

    /// <summary>
    /// Deletes every object a listing of <paramref name="prefix"/> shows, and the unfinished writes under it. Only as good as
    /// the server's listing: what must go for certain is deleted by its key (a job's artifacts go by their manifests), and
    /// this is the safety net behind that. Returns the keys it deleted.
    /// </summary>
    public static async Task<IReadOnlyList<string>> DeletePrefixAsync(this IObjectStore store, string bucket, string prefix, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var keys = new List<string>();
        await foreach (var item in store.ListAsync(bucket, prefix, cancellationToken).ConfigureAwait(false))
        {
            keys.Add(item.Key);
        }

        foreach (var key in keys)
        {
            await store.DeleteAsync(bucket, key, cancellationToken).ConfigureAwait(false);
        }

        // A stage killed mid-write (kill -9, OOM) leaves a write it never finished; the prefix is only gone with it.
        await store.DeleteUnfinishedAsync(bucket, prefix, cancellationToken).ConfigureAwait(false);
        return keys;
    }

    /// <summary>
    /// Opens an object as a read-only seekable stream (<see cref="SeekableObjectStream"/>), for readers that jump, such as
    /// the range requests of a video player; null if the object does not exist.
    /// </summary>
    public static async Task<SeekableObjectStream?> OpenSeekableAsync(this IObjectStore store, string bucket, string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var info = await store.StatAsync(bucket, key, cancellationToken).ConfigureAwait(false);
        return info is null ? null : new SeekableObjectStream(store, info);
    }

    /// <summary>Copies a local file into the store, streamed.</summary>
    public static Task<ObjectInfo> UploadFileAsync(this IObjectStore store, string bucket, string key, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.WriteAsync(bucket, key, async (target, ct) =>
        {
            await using var source = File.OpenRead(path);
            await source.CopyToAsync(target, ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <summary>Copies an object to a local file, streamed.</summary>
    public static async Task DownloadFileAsync(this IObjectStore store, string bucket, string key, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        await using var source = await store.OpenReadAsync(bucket, key, cancellationToken).ConfigureAwait(false);
        await using var target = File.Create(path);
        await source.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
    }
}
