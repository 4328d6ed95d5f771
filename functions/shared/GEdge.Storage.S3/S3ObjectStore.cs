using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using GEdge.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Minio;
using Minio.DataModel;
using Minio.DataModel.Args;
using Minio.Exceptions;

namespace GEdge.Storage.S3;

/// <summary>
/// Object storage on S3 or MinIO through the Minio client. A write streams through a bounded pipe into a multipart
/// upload, which the server publishes only when it is completed; a read hands out the response body as it arrives;
/// so memory stays bounded whatever an object's size. Buckets are created on first write.
/// </summary>
public sealed partial class S3ObjectStore : IObjectStore, IDisposable
{
    // Below this size an object goes up in one PUT (the Minio client's own threshold and S3's minimum part size), and
    // a writer that fails before reaching it has sent nothing at all. A larger object streams as a multipart upload
    // with an unknown size, in the client's 16 MiB parts.
    private const int SinglePutLimit = 5 * 1024 * 1024;

    // How far a writer may run ahead of the upload. The first SinglePutLimit bytes wait in the pipe until the upload
    // knows which kind it is, so the pipe must be allowed to hold more than that, or the writer would stall.
    private static readonly PipeOptions s_pipeOptions = new(
        pauseWriterThreshold: SinglePutLimit + (1 << 20),
        resumeWriterThreshold: SinglePutLimit / 2,
        minimumSegmentSize: 64 * 1024,
        useSynchronizationContext: false);

    private readonly IMinioClient _client;
    private readonly string _region;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, bool> _knownBuckets = new(StringComparer.Ordinal);

    /// <summary>Creates a store for the configured server.</summary>
    public S3ObjectStore(IOptions<S3StorageOptions> options, ILogger<S3ObjectStore> logger)
        : this(options?.Value ?? throw new ArgumentNullException(nameof(options)), logger, primaryHandler: null)
    {
    }

    /// <summary>Creates a store whose HTTP requests end in <paramref name="primaryHandler"/> (tests put a fault or a server quirk there).</summary>
    internal S3ObjectStore(S3StorageOptions options, ILogger? logger, HttpMessageHandler? primaryHandler)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Problem() is { } problem)
        {
            throw new ArgumentException($"S3 storage cannot be used: {problem}.", nameof(options));
        }

        _logger = logger ?? NullLogger.Instance;
        _region = options.Region;
        var (hostAndPort, secure) = options.ResolveEndpoint();
        // Outermost first: the handlers that work around the Minio client see a request's final response, after the
        // retries; the one that presents a ranged read's 206 as a 200 comes before the one that records the real status.
        var transport = new PartialContentHandler(
            new SentBodyReleaseHandler(
                new ResponseStatusHandler(
                    new TransientFaultHandler(
                        options.RetryAttempts,
                        options.RetryDelay,
                        _logger,
                        primaryHandler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }))));
        _client = new MinioClient()
            .WithEndpoint(hostAndPort)
            .WithSSL(secure)
            .WithCredentials(options.AccessKey, options.SecretKey)
            .WithRegion(options.Region)
            .WithHttpClient(new HttpClient(transport), disposeHttpClient: true)
            .Build();
    }

    /// <inheritdoc />
    public async Task<ObjectInfo> WriteAsync(string bucket, string key, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        Validate(bucket, key);
        ArgumentNullException.ThrowIfNull(write);
        await EnsureBucketAsync(bucket, cancellationToken).ConfigureAwait(false);

        var pipe = new Pipe(s_pipeOptions);
        using var writerCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var multipart = new StrongBox<bool>();
        var upload = UploadAsync(bucket, key, pipe.Reader, multipart, writerCancellation, cancellationToken);
        var body = new UploadStream(pipe.Writer);
        Exception? writerFailure = null;
        try
        {
            await write(body, writerCancellation.Token).ConfigureAwait(false);
            await pipe.Writer.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The upload reads this exception where the end of the data would be, so the client never completes the
            // upload and the server publishes nothing; an earlier object under the key stays as it was.
            writerFailure = e;
            await pipe.Writer.CompleteAsync(e).ConfigureAwait(false);
        }

        await ((Task)upload).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!upload.IsCompletedSuccessfully)
        {
            if (multipart.Value)
            {
                await AbortUploadAsync(bucket, key).ConfigureAwait(false);
            }

            // Report the cause: the writer's own failure, or the upload's when the upload failed first and the writer
            // only saw its writes refused (or its token canceled) as a consequence.
            if (writerFailure is not null && (upload.IsCanceled || IsCausedBy(upload.Exception!.InnerException!, writerFailure)))
            {
                ExceptionDispatchInfo.Throw(writerFailure);
            }
        }

        // Throws the upload's failure, if it failed on its own.
        var etag = await upload.ConfigureAwait(false);
        // The server's own record, so that the result reads exactly as StatAsync and ListAsync will report it; if
        // another writer replaced the object in between, what this write produced is reported instead.
        var stored = await StatAsync(bucket, key, cancellationToken).ConfigureAwait(false);
        return stored is not null && (etag is null || stored.ETag == etag)
            ? stored
            : new ObjectInfo(bucket, key, body.Written, etag ?? string.Empty, WholeSeconds(DateTimeOffset.UtcNow));
    }

    /// <inheritdoc />
    public Task<Stream> OpenReadAsync(string bucket, string key, CancellationToken cancellationToken = default) =>
        OpenReadFromAsync(bucket, key, 0, cancellationToken);

    /// <inheritdoc />
    public async Task<Stream> OpenReadFromAsync(string bucket, string key, long offset, CancellationToken cancellationToken = default)
    {
        Validate(bucket, key);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var handedOut = new TaskCompletionSource<ObjectBodyStream>(TaskCreationOptions.RunContinuationsAsynchronously);
        var download = DownloadAsync(bucket, key, offset, handedOut, cancellationToken);
        if (await Task.WhenAny(handedOut.Task, download).ConfigureAwait(false) == handedOut.Task)
        {
            var stream = await handedOut.Task.ConfigureAwait(false);
            stream.Attach(download);
            return stream;
        }

        // The download ended without handing out a body: it failed (missing object, server error), so this throws.
        await download.ConfigureAwait(false);
        throw new IOException($"The server returned no body for object '{key}' in bucket '{bucket}'.");
    }

    /// <inheritdoc />
    public async Task<LocalFileLease> GetLocalFileAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        Validate(bucket, key);
        // The key's extension is kept: tools such as ffmpeg may go by it when the content alone is ambiguous.
        var path = Path.Combine(Path.GetTempPath(), $"gedge-s3-{Guid.NewGuid():N}{SafeExtension(key)}");
        try
        {
            var source = await OpenReadAsync(bucket, key, cancellationToken).ConfigureAwait(false);
            await using (source.ConfigureAwait(false))
            {
                var target = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                await using (target.ConfigureAwait(false))
                {
                    await source.CopyToAsync(target, 1 << 16, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch
        {
            File.Delete(path);
            throw;
        }

        return new LocalFileLease(path, deleteOnDispose: true);
    }

    /// <inheritdoc />
    public async Task<ObjectInfo?> StatAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        Validate(bucket, key);
        try
        {
            var stat = await _client.StatObjectAsync(new StatObjectArgs().WithBucket(bucket).WithObject(key), cancellationToken).ConfigureAwait(false);
            // Minio parses Last-Modified (an HTTP date, in GMT) into local time.
            var modified = new DateTimeOffset(stat.LastModified.Kind == DateTimeKind.Unspecified
                ? DateTime.SpecifyKind(stat.LastModified, DateTimeKind.Utc)
                : stat.LastModified.ToUniversalTime());
            return new ObjectInfo(bucket, key, stat.Size, stat.ETag.Trim('"'), WholeSeconds(modified));
        }
        catch (MinioException e) when (IsNotFound(e))
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ObjectInfo> ListAsync(string bucket, string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectKey.ValidateBucket(bucket);
        ArgumentNullException.ThrowIfNull(prefix);
        // The client pages through ListObjectsV2 (1000 keys a page) with continuation tokens; S3 returns keys in
        // UTF-8 byte order, which is the key order.
        var items = _client.ListObjectsEnumAsync(new ListObjectsArgs().WithBucket(bucket).WithPrefix(prefix).WithRecursive(true), cancellationToken);
        var enumerator = items.GetAsyncEnumerator(cancellationToken);
        await using (enumerator.ConfigureAwait(false))
        {
            while (true)
            {
                Item item;
                try
                {
                    if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    item = enumerator.Current;
                }
                catch (BucketNotFoundException)
                {
                    // A bucket nobody has written to yet holds nothing.
                    break;
                }

                if (!item.IsDir)
                {
                    yield return ToInfo(bucket, item);
                }
            }
        }
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        Validate(bucket, key);
        try
        {
            await _client.RemoveObjectAsync(new RemoveObjectArgs().WithBucket(bucket).WithObject(key), cancellationToken).ConfigureAwait(false);
        }
        catch (MinioException e) when (IsNotFound(e))
        {
            // Deleting what does not exist is not an error (S3 answers 204 for a missing key; this is a missing bucket).
        }
    }

    /// <summary>Releases the client and its connections.</summary>
    public void Dispose() => _client.Dispose();

    private async Task<string?> UploadAsync(
        string bucket,
        string key,
        PipeReader reader,
        StrongBox<bool> multipart,
        CancellationTokenSource writerCancellation,
        CancellationToken cancellationToken)
    {
        try
        {
            var args = new PutObjectArgs().WithBucket(bucket).WithObject(key).WithContentType("application/octet-stream");
            var head = await reader.ReadAtLeastAsync(SinglePutLimit, cancellationToken).ConfigureAwait(false);
            if (head.IsCompleted && head.Buffer.Length < SinglePutLimit)
            {
                var bytes = head.Buffer.ToArray();
                reader.AdvanceTo(head.Buffer.End);
                args = args.WithStreamData(new MemoryStream(bytes, writable: false)).WithObjectSize(bytes.Length);
            }
            else
            {
                // Nothing consumed: the client reads these bytes again from the stream, then the rest as it comes.
                reader.AdvanceTo(head.Buffer.Start);
                multipart.Value = true;
                args = args.WithStreamData(reader.AsStream(leaveOpen: true)).WithObjectSize(-1);
            }

            var response = await _client.PutObjectAsync(args, cancellationToken).ConfigureAwait(false);
            await reader.CompleteAsync().ConfigureAwait(false);
            LogWritten(bucket, key, multipart.Value ? "multipart" : "single");
            return response.Etag?.Trim('"');
        }
        catch (Exception e)
        {
            // Stop the writer: its next write fails, and a writer waiting on its token elsewhere is canceled.
            await reader.CompleteAsync(e).ConfigureAwait(false);
            await writerCancellation.CancelAsync().ConfigureAwait(false);
            if (e is BucketNotFoundException)
            {
                // Deleted behind this store's back: create it again on the next write.
                _knownBuckets.TryRemove(bucket, out _);
            }

            throw;
        }
    }

    private async Task DownloadAsync(string bucket, string key, long offset, TaskCompletionSource<ObjectBodyStream> handedOut, CancellationToken cancellationToken)
    {
        var response = ResponseScope.Begin();
        // From an offset, the object's bytes come as a partial response (Range: bytes=OFFSET-); a whole 200 would start
        // at byte 0, and is refused as an answer to a ranged read.
        var expected = offset > 0 ? HttpStatusCode.PartialContent : HttpStatusCode.OK;
        var args = new GetObjectArgs().WithBucket(bucket).WithObject(key).WithCallbackStream(async (body, _) =>
        {
            if (response.Status != expected)
            {
                // An error document, not the object: return, and the client raises the error it describes.
                return;
            }

            var stream = new ObjectBodyStream(body, response.ContentLength);
            handedOut.SetResult(stream);
            // Minio releases the response when this callback returns, so it returns when the reader is done.
            await stream.Closed.ConfigureAwait(false);
        });
        if (offset > 0)
        {
            // A length of 0 asks for everything from the offset on.
            args = args.WithOffsetAndLength(offset, 0);
        }

        try
        {
            await _client.GetObjectAsync(args, cancellationToken).ConfigureAwait(false);
        }
        catch (MinioException e) when (IsNotFound(e))
        {
            throw new ObjectNotFoundException(bucket, key);
        }
    }

    private async Task EnsureBucketAsync(string bucket, CancellationToken cancellationToken)
    {
        if (_knownBuckets.ContainsKey(bucket))
        {
            return;
        }

        if (!await _client.BucketExistsAsync(new BucketExistsArgs().WithBucket(bucket), cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await _client.MakeBucketAsync(new MakeBucketArgs().WithBucket(bucket).WithLocation(_region), cancellationToken).ConfigureAwait(false);
                LogBucketCreated(bucket);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Another writer (or process) may have created it first; that is as good.
                if (!await _client.BucketExistsAsync(new BucketExistsArgs().WithBucket(bucket), cancellationToken).ConfigureAwait(false))
                {
                    throw;
                }
            }
        }

        _knownBuckets.TryAdd(bucket, true);
    }

    // Aborting goes through the only public way Minio 7 offers (its abort-by-upload-id is private): list the key's
    // incomplete uploads and abort them. An incomplete upload is never visible as an object, so a failure here leaves
    // only parts that the server's own cleanup (MinIO's stale-upload expiry, an S3 lifecycle rule) removes later.
    private async Task AbortUploadAsync(string bucket, string key)
    {
        try
        {
            await _client.RemoveIncompleteUploadAsync(new RemoveIncompleteUploadArgs().WithBucket(bucket).WithObject(key), CancellationToken.None).ConfigureAwait(false);
            LogUploadAborted(bucket, key);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogAbortFailed(e, bucket, key);
        }
    }

    private static void Validate(string bucket, string key)
    {
        ObjectKey.ValidateBucket(bucket);
        ObjectKey.Validate(key);
    }

    private static bool IsNotFound(MinioException e) => e is Minio.Exceptions.ObjectNotFoundException or BucketNotFoundException;

    private static bool IsCausedBy(Exception failure, Exception cause)
    {
        for (var e = failure; e is not null; e = e.InnerException)
        {
            if (ReferenceEquals(e, cause))
            {
                return true;
            }
        }

        return false;
    }

    private static ObjectInfo ToInfo(string bucket, Item item) => new(
        bucket,
        item.Key,
        checked((long)item.Size),
        item.ETag?.Trim('"') ?? string.Empty,
        WholeSeconds(DateTimeOffset.Parse(item.LastModified, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal)));

    // A listing gives milliseconds (MinIO) where a HEAD's Last-Modified gives whole seconds; S3 keeps seconds, so
    // both are cut to seconds and report the same time for the same object.
    private static DateTimeOffset WholeSeconds(DateTimeOffset time) =>
        new(time.UtcTicks - (time.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    private static string SafeExtension(string key)
    {
        var extension = Path.GetExtension(key.AsSpan(key.LastIndexOf('/') + 1));
        if (extension.Length is < 2 or > 16)
        {
            return string.Empty;
        }

        foreach (var c in extension[1..])
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return string.Empty;
            }
        }

        return extension.ToString();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created bucket {Bucket}")]
    private partial void LogBucketCreated(string bucket);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Wrote {Bucket}/{Key} ({UploadKind} upload)")]
    private partial void LogWritten(string bucket, string key, string uploadKind);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Aborted the incomplete upload of {Bucket}/{Key}")]
    private partial void LogUploadAborted(string bucket, string key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not abort the incomplete upload of {Bucket}/{Key}; its parts stay on the server (never visible as an object) until its stale-upload cleanup")]
    private partial void LogAbortFailed(Exception exception, string bucket, string key);
}
