using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using GEdge.Contracts;
using Microsoft.Extensions.Options;

namespace GEdge.Storage;

/// <summary>Options of the embedded default store: a folder holding one sub-folder per bucket.</summary>
public sealed record LocalStorageOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "Storage:Local";

    /// <summary>The folder that holds the buckets.</summary>
    public string Root { get; init; } = Path.Combine(".gedge", "storage");
}

/// <summary>
/// The embedded default: each bucket a folder, each object a file. Writes go to a temporary file in the bucket
/// and are renamed into place when complete, so readers see whole objects only.
/// </summary>
public sealed class LocalFolderObjectStore : IObjectStore
{
    private const string PartialSuffix = ".partial";
    private readonly string _root;

    /// <summary>Creates a store over the configured folder.</summary>
    public LocalFolderObjectStore(IOptions<LocalStorageOptions> options)
        : this(options?.Value.Root ?? throw new ArgumentNullException(nameof(options)))
    {
    }

    /// <summary>Creates a store over <paramref name="root"/>.</summary>
    public LocalFolderObjectStore(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        _root = Path.GetFullPath(root);
        Directory.CreateDirectory(_root);
    }

    /// <inheritdoc />
    public async Task<ObjectInfo> WriteAsync(string bucket, string key, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        var path = PathOf(bucket, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var partial = $"{path}.{Guid.NewGuid():N}{PartialSuffix}";
        try
        {
            await using (var stream = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await write(stream, cancellationToken).ConfigureAwait(false);
            }

            File.Move(partial, path, overwrite: true);
        }
        catch
        {
            // A failed write leaves nothing behind, not even the folders made for it.
            File.Delete(partial);
            RemoveEmptyFolders(Path.GetDirectoryName(path)!, BucketPath(bucket));
            throw;
        }

        return Info(bucket, key, new FileInfo(path));
    }

    /// <inheritdoc />
    public Task<Stream> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(bucket, key);
        try
        {
            return Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, useAsync: true));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ObjectNotFoundException(bucket, key);
        }
    }

    /// <inheritdoc />
    public async Task<Stream> OpenReadFromAsync(string bucket, string key, long offset, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var stream = await OpenReadAsync(bucket, key, cancellationToken).ConfigureAwait(false);
        stream.Seek(offset, SeekOrigin.Begin);
        return stream;
    }

    /// <inheritdoc />
    public Task<LocalFileLease> GetLocalFileAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(bucket, key);
        return File.Exists(path)
            ? Task.FromResult(new LocalFileLease(path, deleteOnDispose: false))
            : throw new ObjectNotFoundException(bucket, key);
    }

    /// <inheritdoc />
    public Task<ObjectInfo?> StatAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        var file = new FileInfo(PathOf(bucket, key));
        return Task.FromResult(file.Exists ? Info(bucket, key, file) : null);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ObjectInfo> ListAsync(string bucket, string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var bucketPath = BucketPath(bucket);
        if (!Directory.Exists(bucketPath))
        {
            yield break;
        }

        var found = new List<(string Key, FileInfo File)>();
        foreach (var file in new DirectoryInfo(bucketPath).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            var key = Path.GetRelativePath(bucketPath, file.FullName).Replace(Path.DirectorySeparatorChar, '/');
            if (key.StartsWith(prefix, StringComparison.Ordinal) && !key.EndsWith(PartialSuffix, StringComparison.Ordinal))
            {
                found.Add((key, file));
            }
        }

        found.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        foreach (var (key, file) in found)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return Info(bucket, key, file);
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(bucket, key);
        if (!File.Exists(path))
        {
            // File.Delete ignores a missing file but not a missing folder (a bucket or prefix never written).
            return Task.CompletedTask;
        }

        File.Delete(path);
        RemoveEmptyFolders(Path.GetDirectoryName(path)!, BucketPath(bucket));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<int> DeleteUnfinishedAsync(string bucket, string prefix, CancellationToken cancellationToken = default)
    {
        var bucketPath = BucketPath(bucket);
        if (!Directory.Exists(bucketPath))
        {
            return Task.FromResult(0);
        }

        var removed = 0;
        foreach (var file in new DirectoryInfo(bucketPath).EnumerateFiles("*" + PartialSuffix, SearchOption.AllDirectories).ToList())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = Path.GetRelativePath(bucketPath, file.FullName).Replace(Path.DirectorySeparatorChar, '/');
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                file.Delete();
                RemoveEmptyFolders(file.DirectoryName!, bucketPath);
                removed++;
            }
        }

        return Task.FromResult(removed);
    }

    private string BucketPath(string bucket) => Path.Combine(_root, ObjectKey.ValidateBucket(bucket));

    private string PathOf(string bucket, string key)
    {
        var bucketPath = BucketPath(bucket);
        var path = Path.GetFullPath(Path.Combine(bucketPath, ObjectKey.Validate(key)));
        // Validation already rules out '..' and absolute keys; this second check guards the file system itself.
        return path.StartsWith(bucketPath + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? path
            : throw new InvalidObjectKeyException(key, "the key leaves its bucket");
    }

    private static void RemoveEmptyFolders(string folder, string stopAt)
    {
        // Deletes may run side by side (a job's intermediates are removed several at a time): another may have emptied and
        // removed a folder first, or put something in it since the check; either way this one stops there.
        try
        {
            while (folder.Length > stopAt.Length && Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
            {
                Directory.Delete(folder);
                folder = Path.GetDirectoryName(folder)!;
            }
        }
        catch (Exception e) when (e is DirectoryNotFoundException or IOException)
        {
        }
    }

    // A folder has no etag; size and modification time identify a version as well as S3's etag does for a file
    // written once, which is all the job table's idempotency needs.
    private static ObjectInfo Info(string bucket, string key, FileInfo file)
    {
        var stamp = $"{file.Length}-{file.LastWriteTimeUtc.Ticks}";
        var etag = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(stamp)))[..32];
        return new ObjectInfo(bucket, key, file.Length, etag, new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero));
    }
}
