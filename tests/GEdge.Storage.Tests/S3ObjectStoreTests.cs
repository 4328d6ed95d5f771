using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using GEdge.Storage.S3;
using Minio.DataModel.Args;
using Minio.Exceptions;

namespace GEdge.Storage.Tests;

/// <summary>The store contract on S3, against a real s3rver, plus what only the S3 store does.</summary>
public sealed class S3ObjectStoreTests : ObjectStoreContract, IClassFixture<S3rverFixture>, IDisposable
{
    private const int MiB = 1024 * 1024;
    private readonly S3rverFixture _server;
    private readonly S3ObjectStore _store;

    public S3ObjectStoreTests(S3rverFixture server)
        : this(server, server.CreateStore())
    {
    }

    private S3ObjectStoreTests(S3rverFixture server, S3ObjectStore store)
        : base(store)
    {
        _server = server;
        _store = store;
    }

    public void Dispose() => _store.Dispose();

    [Fact]
    public async Task Write_ToABucketThatDoesNotExist_CreatesItOnFirstUse()
    {
        using var client = _server.CreateClient();
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync(Bucket, "alice/a.txt"));
        Assert.Null(await Store.StatAsync(Bucket, "alice/a.txt"));
        Assert.Empty(await ListAsync(""));
        Assert.False(await client.BucketExistsAsync(new BucketExistsArgs().WithBucket(Bucket)), "reading must not create the bucket");

        await WriteTextAsync("alice/a.txt", "hello");
        await WriteTextAsync("alice/b.txt", "again");

        Assert.True(await client.BucketExistsAsync(new BucketExistsArgs().WithBucket(Bucket)));
        Assert.Equal("hello", await ReadTextAsync("alice/a.txt"));
    }

    [Fact]
    public async Task Write_AfterTheBucketWasRemovedBehindTheStoresBack_FailsOnceThenCreatesItAgain()
    {
        using var client = _server.CreateClient();
        await WriteTextAsync("alice/a.txt", "hello");
        await client.RemoveObjectAsync(new RemoveObjectArgs().WithBucket(Bucket).WithObject("alice/a.txt"));
        await client.RemoveBucketAsync(new RemoveBucketArgs().WithBucket(Bucket));

        // The store believed the bucket existed; the server's answer makes it forget that.
        await Assert.ThrowsAsync<BucketNotFoundException>(() => WriteTextAsync("alice/b.txt", "lost"));
        await WriteTextAsync("alice/c.txt", "kept");

        Assert.Equal(["alice/c.txt"], (await ListAsync("alice/")).Select(o => o.Key));
    }

    [Theory]
    [InlineData("alice/plus+sign.mp4")]
    [InlineData("alice/percent%20sign.mp4")]
    [InlineData("alice/q?uery&amp=1#frag.mp4")]
    public async Task Keys_WithCharactersThatUrlsGiveMeaningTo_RoundTrip(string key)
    {
        // With S3 and MinIO the server URL-encodes listed keys (encoding-type=url); with s3rver the compatibility
        // handler does what the server does not. Either way the store must neither double-encode nor double-decode.
        var written = await WriteTextAsync(key, key);

        Assert.Equal(key, await ReadTextAsync(key));
        Assert.Equal(written, await Store.StatAsync(Bucket, key));
        Assert.Equal([key], (await ListAsync("alice/")).Select(o => o.Key));
    }

    [Fact]
    public async Task Write_LargerThanOnePart_StreamsAsAMultipartUpload_AndReadsBack()
    {
        const long size = (16 * MiB) + (5 * MiB) + 12_345;

        var (info, writtenHash) = await WriteGeneratedAsync("big/21mib.bin", size);
        var (readSize, readHash) = await HashAsync(await Store.OpenReadAsync(Bucket, "big/21mib.bin"));

        Assert.Equal(size, info.Size);
        Assert.Equal(size, readSize);
        Assert.Equal(writtenHash, readHash);
        Assert.Equal(info, Assert.Single(await ListAsync("big/")));
    }

    [Fact]
    public async Task Write_WhenTheWriterThrowsAfterPartsWereUploaded_PublishesNothing_AndAbortsTheUpload()
    {
        var requests = new FaultInjectingHandler(new SocketsHttpHandler(), (_, _) => null);
        using var store = _server.CreateStore(requests);
        await store.WriteAsync(Bucket, "alice/a.bin", (stream, ct) => stream.WriteAsync("first"u8.ToArray(), ct).AsTask());

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync(Bucket, "alice/a.bin", async (stream, ct) =>
        {
            // More than one 16 MiB part: the multipart upload has begun and a part is on the server.
            await Generate(20 * MiB, stream, hash: null, ct);
            throw new InvalidOperationException("writer died");
        }));

        Assert.Equal("first", await ReadTextAsync("alice/a.bin"));
        Assert.Equal(5, Assert.Single(await ListAsync("alice/")).Size);
        // Never completed; and the store asked for the key's incomplete uploads to abort them. (s3rver implements
        // neither listing nor aborting multipart uploads, so there the parts stay in its folder, invisible.)
        Assert.DoesNotContain(requests.Requests, r => r.StartsWith("POST ", StringComparison.Ordinal) && r.Contains("uploadId=", StringComparison.Ordinal));
        Assert.Contains(requests.Requests, r => r.StartsWith($"GET /{Bucket}/?", StringComparison.Ordinal) && r.Contains("uploads", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Write_WhenTheServerRefusesTheUpload_ThrowsTheServersError_AndStopsTheWriterEarly()
    {
        // Every request that starts or feeds a multipart upload fails (after the store's retries).
        var faults = new FaultInjectingHandler(
            new SocketsHttpHandler(),
            (request, _) => request.RequestUri!.Query.Contains("uploads", StringComparison.Ordinal) ? HttpStatusCode.InternalServerError : null);
        using var store = _server.CreateStore(faults, _server.Options with { RetryAttempts = 1 });
        long written = 0;

        var error = await Assert.ThrowsAnyAsync<Exception>(() => store.WriteAsync(Bucket, "alice/big.bin", async (stream, ct) =>
        {
            var chunk = new byte[64 * 1024];
            for (var i = 0; i < 100 * MiB / chunk.Length; i++)
            {
                await stream.WriteAsync(chunk, ct);
                written += chunk.Length;
            }
        }));

        Assert.IsAssignableFrom<MinioException>(error);
        Assert.True(written < 16 * MiB, $"the writer went on to write {written / MiB} MiB into an upload that had failed");
        Assert.Null(await Store.StatAsync(Bucket, "alice/big.bin"));
    }

    [Fact]
    public async Task Write_OfALargeObjectInProgress_IsNotVisibleUntilComplete()
    {
        var writing = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        var write = Store.WriteAsync(Bucket, "alice/slow.bin", async (stream, ct) =>
        {
            await Generate(18 * MiB, stream, hash: null, ct);
            writing.SetResult();
            await finish.Task;
        });
        await writing.Task;

        Assert.Null(await Store.StatAsync(Bucket, "alice/slow.bin"));
        Assert.Empty(await ListAsync("alice/"));

        finish.SetResult();
        Assert.Equal(18 * MiB, (await write).Size);
    }

    [Fact]
    public async Task GetLocalFile_DownloadsToATempFile_ThatDisposingDeletes()
    {
        const long size = (17 * MiB) + 1;
        var (_, writtenHash) = await WriteGeneratedAsync("alice/clip.mkv", size);

        string path;
        await using (var lease = await Store.GetLocalFileAsync(Bucket, "alice/clip.mkv"))
        {
            path = lease.Path;
            Assert.StartsWith(Path.GetTempPath(), path, StringComparison.Ordinal);
            Assert.EndsWith(".mkv", path, StringComparison.Ordinal);
            var (fileSize, fileHash) = await HashAsync(File.OpenRead(path));
            Assert.Equal(size, fileSize);
            Assert.Equal(writtenHash, fileHash);
        }

        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task OpenRead_ReportsTheObjectsLength_AndReadsItInPieces()
    {
        await WriteTextAsync("alice/a.txt", "hello world");

        await using var stream = await Store.OpenReadAsync(Bucket, "alice/a.txt");
        var buffer = new byte[4];

        Assert.Equal(11, stream.Length);
        Assert.False(stream.CanSeek);
        Assert.Equal(4, await stream.ReadAtLeastAsync(buffer, 4));
        Assert.Equal("hell", Encoding.UTF8.GetString(buffer));
        Assert.Equal(4, stream.Position);
    }

    [Fact]
    public async Task OpenRead_WhenTheReaderStopsEarly_ReleasesTheConnectionForOtherRequests()
    {
        await WriteGeneratedAsync("alice/big.bin", 8 * MiB);

        for (var i = 0; i < 20; i++)
        {
            await using var stream = await Store.OpenReadAsync(Bucket, "alice/big.bin");
            await stream.ReadAtLeastAsync(new byte[1000], 1000);
        }

        Assert.NotNull(await Store.StatAsync(Bucket, "alice/big.bin"));
    }

    [Fact]
    public async Task List_WhenThereAreMoreKeysThanOnePage_PagesThroughThemAll()
    {
        // s3rver, like S3, answers at most 1000 keys a page. The objects go in through a bare client: the store's
        // write ends with a stat, and Minio's stat asks whether the bucket exists first, which s3rver answers by
        // listing the whole bucket, so 1234 writes through the store would take minutes.
        const int count = 1234;
        await WriteTextAsync("other/x.json", "x");
        using var client = _server.CreateClient();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
            await client.PutObjectAsync(
                new PutObjectArgs().WithBucket(Bucket).WithObject($"many/{i:D5}.json").WithStreamData(new MemoryStream([1])).WithObjectSize(1),
                ct));

        var keys = (await ListAsync("many/")).Select(o => o.Key).ToList();

        Assert.Equal(Enumerable.Range(0, count).Select(i => $"many/{i:D5}.json"), keys);
    }

    [Fact]
    public async Task Requests_ThatFailWithA5xx_AreRetried_AndTheCallerSeesNoError()
    {
        var faults = FaultInjectingHandler.FirstAttemptsFail(new SocketsHttpHandler());
        using var store = _server.CreateStore(faults);

        var small = await store.WriteAsync(Bucket, "alice/a.txt", (stream, ct) => stream.WriteAsync("hello"u8.ToArray(), ct).AsTask());
        var large = await store.WriteAsync(Bucket, "alice/b.bin", (stream, ct) => Generate(17 * MiB, stream, hash: null, ct));
        await using (var read = await store.OpenReadAsync(Bucket, "alice/a.txt"))
        {
            Assert.Equal("hello", await new StreamReader(read).ReadToEndAsync());
        }

        var listed = await ToListAsync(store.ListAsync(Bucket, "alice/"));
        await store.DeleteAsync(Bucket, "alice/a.txt");

        Assert.Equal(5, small.Size);
        Assert.Equal(17 * MiB, large.Size);
        Assert.Equal(["alice/a.txt", "alice/b.bin"], listed.Select(o => o.Key));
        Assert.Null(await store.StatAsync(Bucket, "alice/a.txt"));
        // Every request failed once: bucket check and creation, puts, the multipart calls, stats, get, list, delete.
        Assert.True(faults.Faults >= 12, $"only {faults.Faults} faults were injected");
        Assert.Equal(2 * faults.Faults, faults.Attempts);
    }

    [Fact]
    public async Task Requests_WhenTheServerIsUnreachable_AreRetriedWithBackoffThenFail()
    {
        var attempts = new FaultInjectingHandler(new SocketsHttpHandler(), (_, _) => null);
        using var store = new S3ObjectStore(
            _server.Options with { Endpoint = $"127.0.0.1:{ClosedPort()}", RetryAttempts = 3, RetryDelay = TimeSpan.FromMilliseconds(10) },
            logger: null,
            attempts);

        await Assert.ThrowsAsync<HttpRequestException>(() => store.StatAsync(Bucket, "alice/a.txt"));

        Assert.Equal(4, attempts.Attempts);
    }

    [Fact]
    public async Task OpenRead_WhenTheDownloadKeepsFailing_ThrowsInsteadOfHandingOutTheErrorDocument()
    {
        await WriteTextAsync("alice/a.txt", "hello");
        // Stat (HEAD) succeeds, every GET of the object fails: Minio hands the error body to its callback.
        var faults = new FaultInjectingHandler(
            new SocketsHttpHandler(),
            (request, _) => request.Method == HttpMethod.Get && request.RequestUri!.AbsolutePath.EndsWith("/a.txt", StringComparison.Ordinal)
                ? HttpStatusCode.InternalServerError
                : null);
        using var store = _server.CreateStore(faults, _server.Options with { RetryAttempts = 2 });

        await Assert.ThrowsAnyAsync<MinioException>(() => store.OpenReadAsync(Bucket, "alice/a.txt"));

        Assert.Equal(3, faults.Faults);
    }

    [Fact]
    public async Task Endpoint_GivenAsAnHttpUrl_IsUsedAsIs()
    {
        using var store = _server.CreateStore(options: _server.Options with { Endpoint = $"http://{_server.Endpoint}/" });

        await store.WriteAsync(Bucket, "alice/a.txt", (stream, ct) => stream.WriteAsync("hello"u8.ToArray(), ct).AsTask());

        Assert.Equal("hello", await ReadTextAsync("alice/a.txt"));
    }

    [Fact]
    public void Create_WhenTheOptionsAreIncomplete_SaysWhatIsMissing()
    {
        var error = Assert.Throws<ArgumentException>(() => new S3ObjectStore(_server.Options with { SecretKey = null }, logger: null, primaryHandler: null));

        Assert.Contains("Storage:S3:SecretKey", error.Message, StringComparison.Ordinal);
    }

    private async Task<(ObjectInfo Info, byte[] Hash)> WriteGeneratedAsync(string key, long size)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var info = await Store.WriteAsync(Bucket, key, (stream, ct) => Generate(size, stream, hash, ct));
        return (info, hash.GetHashAndReset());
    }

    internal static async Task Generate(long size, Stream target, IncrementalHash? hash, CancellationToken cancellationToken)
    {
        var generator = new ByteGenerator(seed: (ulong)size);
        var buffer = new byte[64 * 1024];
        for (var left = size; left > 0;)
        {
            var chunk = buffer.AsMemory(0, (int)Math.Min(buffer.Length, left));
            generator.Fill(chunk.Span);
            hash?.AppendData(chunk.Span);
            await target.WriteAsync(chunk, cancellationToken);
            left -= chunk.Length;
        }
    }

    internal static async Task<(long Size, byte[] Hash)> HashAsync(Stream source)
    {
        await using (source)
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            long size = 0;
            int read;
            while ((read = await source.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                size += read;
            }

            return (size, hash.GetHashAndReset());
        }
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
