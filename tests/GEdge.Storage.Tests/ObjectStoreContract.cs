using System.Text;
using GEdge.Contracts;

namespace GEdge.Storage.Tests;

/// <summary>
/// What every <see cref="IObjectStore"/> must do. Each store (the local folder, S3 on a real s3rver) runs this suite
/// through a subclass, so both pass the same assertions. Every test writes to a bucket of its own.
/// </summary>
public abstract class ObjectStoreContract
{
    protected ObjectStoreContract(IObjectStore store) => Store = store;

    protected IObjectStore Store { get; }

    /// <summary>This test's bucket, unused by any other test.</summary>
    protected string Bucket { get; } = $"test-{Guid.NewGuid():N}";

    [Fact]
    public async Task Write_ThenRead_ReturnsTheSameBytes()
    {
        var info = await WriteTextAsync("alice/a.txt", "hello");

        Assert.Equal(5, info.Size);
        Assert.Equal("alice/a.txt", info.Key);
        Assert.Equal(Bucket, info.Bucket);
        Assert.Equal("hello", await ReadTextAsync("alice/a.txt"));
        Assert.Equal(info, await Store.StatAsync(Bucket, "alice/a.txt"));
    }

    [Fact]
    public async Task Write_WhenTheWriterWritesNothing_StoresAnEmptyObject()
    {
        var info = await Store.WriteAsync(Bucket, "alice/empty.bin", (_, _) => Task.CompletedTask);

        Assert.Equal(0, info.Size);
        Assert.Equal("", await ReadTextAsync("alice/empty.bin"));
    }

    [Fact]
    public async Task Write_OverAnExistingObject_ReplacesIt()
    {
        var first = await WriteTextAsync("alice/a.txt", "first");
        var second = await WriteTextAsync("alice/a.txt", "second!");

        Assert.NotEqual(first.ETag, second.ETag);
        Assert.Equal("second!", await ReadTextAsync("alice/a.txt"));
        Assert.Equal(7, (await Store.StatAsync(Bucket, "alice/a.txt"))!.Size);
    }

    [Fact]
    public async Task Write_WhenTheWriterThrows_PublishesNothingAndKeepsTheEarlierObject()
    {
        await WriteTextAsync("alice/a.txt", "first");

        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.WriteAsync(Bucket, "alice/a.txt", async (stream, ct) =>
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes("half of the sec"), ct);
            throw new InvalidOperationException("writer died");
        }));

        Assert.Equal("first", await ReadTextAsync("alice/a.txt"));
        Assert.Single(await ListAsync("alice/"));
    }

    [Fact]
    public async Task Write_WhenTheWriterThrowsOnANewKey_LeavesNoObject()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.WriteAsync(Bucket, "alice/never.bin", async (stream, ct) =>
        {
            await stream.WriteAsync(new byte[1000], ct);
            throw new InvalidOperationException("writer died");
        }));

        Assert.Null(await Store.StatAsync(Bucket, "alice/never.bin"));
        Assert.Empty(await ListAsync(""));
    }

    [Fact]
    public async Task Write_WhileInProgress_IsNotVisibleToReadersOrListings()
    {
        var writing = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        var write = Store.WriteAsync(Bucket, "alice/slow.bin", async (stream, ct) =>
        {
            await stream.WriteAsync(new byte[100], ct);
            writing.SetResult();
            await finish.Task;
        });
        await writing.Task;

        Assert.Null(await Store.StatAsync(Bucket, "alice/slow.bin"));
        Assert.Empty(await ListAsync("alice/"));

        finish.SetResult();
        await write;
        Assert.Equal(100, (await Store.StatAsync(Bucket, "alice/slow.bin"))!.Size);
    }

    [Fact]
    public async Task List_ReturnsOnlyKeysUnderThePrefix_InKeyOrder()
    {
        await WriteTextAsync("bob/x.txt", "b");
        await WriteTextAsync("alice/2.txt", "2");
        await WriteTextAsync("alice/1.txt", "1");
        await WriteTextAsync("alice/sub/3.txt", "3");
        await WriteTextAsync("alice2/4.txt", "4");

        Assert.Equal(["alice/1.txt", "alice/2.txt", "alice/sub/3.txt"], (await ListAsync("alice/")).Select(o => o.Key));
    }

    [Fact]
    public async Task List_ReportsWhatStatReports()
    {
        var written = await WriteTextAsync("alice/a.txt", "hello");

        var listed = Assert.Single(await ListAsync("alice/"));

        Assert.Equal(written, listed);
    }

    [Fact]
    public async Task List_WhenTheBucketWasNeverWritten_IsEmpty() =>
        Assert.Empty(await ListAsync(""));

    [Fact]
    public async Task DeletePrefix_RemovesEveryObjectUnderIt_AndNothingElse()
    {
        await WriteTextAsync("jobs/1/frames/000000.raw", "a");
        await WriteTextAsync("jobs/1/frames.json", "b");
        await WriteTextAsync("jobs/10/frames.json", "c");

        var removed = await Store.DeletePrefixAsync(Bucket, "jobs/1/");

        Assert.Equal(["jobs/1/frames.json", "jobs/1/frames/000000.raw"], removed.Order(StringComparer.Ordinal));
        Assert.Equal(["jobs/10/frames.json"], (await ListAsync("jobs/")).Select(o => o.Key));
    }

    [Fact]
    public async Task DeleteAll_RemovesManyObjectsOfOneFolderAtOnce_AndKeysThatNeverExisted_AndNothingElse()
    {
        // Several deletes at a time in one folder: a store that tidies up emptied folders (this one's local folder, s3rver's
        // own) sees them race, and must still end with every object gone.
        var keys = Enumerable.Range(0, 24).Select(i => $"jobs/1/frames/{i:D6}.raw").ToList();
        foreach (var key in keys)
        {
            await WriteTextAsync(key, key);
        }

        await WriteTextAsync("jobs/10/frames.json", "c");

        await Store.DeleteAllAsync(Bucket, [.. keys, "jobs/1/frames/999999.raw", "jobs/2/none.json"]);

        Assert.Equal(["jobs/10/frames.json"], (await ListAsync("jobs/")).Select(o => o.Key));
    }

    [Fact]
    public async Task Delete_WhenTheObjectIsMissing_IsNotAnError()
    {
        await WriteTextAsync("alice/a.txt", "keep");

        await Store.DeleteAsync(Bucket, "alice/none.txt");
        await Store.DeleteAsync($"never-{Guid.NewGuid():N}", "alice/none.txt");

        Assert.Equal("keep", await ReadTextAsync("alice/a.txt"));
    }

    [Fact]
    public async Task OpenRead_WhenObjectIsMissing_ThrowsObjectNotFound()
    {
        await WriteTextAsync("alice/a.txt", "other");

        var error = await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync(Bucket, "alice/none.mp4"));
        Assert.Contains("alice/none.mp4", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenReadFrom_AnOffset_ReadsFromThereToTheEnd()
    {
        await WriteTextAsync("alice/digits.txt", "0123456789");

        await using var tail = await Store.OpenReadFromAsync(Bucket, "alice/digits.txt", 7);
        using var reader = new StreamReader(tail, Encoding.UTF8);

        Assert.Equal("789", await reader.ReadToEndAsync());
    }

    [Fact]
    public async Task OpenSeekable_ReadsWhereverItIsMoved_AndKnowsTheObject()
    {
        var info = await WriteTextAsync("alice/letters.txt", "abcdefghijklmnopqrstuvwxyz");

        await using var stream = (await Store.OpenSeekableAsync(Bucket, "alice/letters.txt"))!;

        Assert.True(stream.CanSeek);
        Assert.Equal(26, stream.Length);
        Assert.Equal(info, stream.Info);
        Assert.Equal("abc", await ReadAsync(stream, 3));
        stream.Seek(20, SeekOrigin.Begin);
        Assert.Equal("uvw", await ReadAsync(stream, 3));
        stream.Position = 1;
        Assert.Equal("bcd", await ReadAsync(stream, 3));
        stream.Seek(-2, SeekOrigin.End);
        Assert.Equal("yz", await ReadAsync(stream, 10));
        Assert.Equal(0, await stream.ReadAsync(new byte[4]));
        Assert.Null(await Store.OpenSeekableAsync(Bucket, "alice/none.txt"));

        static async Task<string> ReadAsync(Stream stream, int count)
        {
            var buffer = new byte[count];
            var read = await stream.ReadAtLeastAsync(buffer, count, throwOnEndOfStream: false);
            return Encoding.UTF8.GetString(buffer, 0, read);
        }
    }

    [Fact]
    public async Task Write_ThatFails_LeavesNoFolderOrObjectBehind()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.WriteAsync(Bucket, "alice/new/x.bin", async (stream, ct) =>
        {
            await stream.WriteAsync(new byte[100], ct);
            throw new InvalidOperationException("the writer broke");
        }));

        Assert.Null(await Store.StatAsync(Bucket, "alice/new/x.bin"));
        await foreach (var item in Store.ListAsync(Bucket, "alice/"))
        {
            Assert.Fail($"{item.Key} was left behind");
        }
    }

    [Fact]
    public async Task MissingObjectInABucketThatDoesNotExist_IsNotFound()
    {
        var bucket = $"never-{Guid.NewGuid():N}";

        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync(bucket, "alice/none.mp4"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.GetLocalFileAsync(bucket, "alice/none.mp4"));
        Assert.Null(await Store.StatAsync(bucket, "alice/none.mp4"));
        Assert.Empty(await ToListAsync(Store.ListAsync(bucket, "")));
    }

    [Fact]
    public async Task Stat_WhenObjectIsMissing_ReturnsNull()
    {
        await WriteTextAsync("alice/a.txt", "other");

        Assert.Null(await Store.StatAsync(Bucket, "alice/none.txt"));
    }

    [Theory]
    [InlineData("alice/two words.mp4")]
    [InlineData("alice/ünïcødé clip ✓.mp4")]
    [InlineData("alice/日本語/動画.mov")]
    [InlineData("alice/emoji 🎬 take 1.mkv")]
    public async Task Keys_WithSpacesAndNonAsciiCharacters_RoundTrip(string key)
    {
        var written = await WriteTextAsync(key, key);

        Assert.Equal(key, await ReadTextAsync(key));
        Assert.Equal(written, await Store.StatAsync(Bucket, key));
        Assert.Equal([key], (await ListAsync("alice/")).Select(o => o.Key));
        await Store.DeleteAsync(Bucket, key);
        Assert.Null(await Store.StatAsync(Bucket, key));
    }

    [Theory]
    [InlineData("../outside.txt")]
    [InlineData("/tmp/outside.txt")]
    [InlineData("alice/../../outside.txt")]
    [InlineData("alice//outside.txt")]
    public async Task Write_WhenKeyWouldLeaveTheBucket_IsRefusedAndWritesNothing(string key)
    {
        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => WriteTextAsync(key, "x"));

        Assert.Empty(await ListAsync(""));
    }

    [Theory]
    [InlineData("Uploads")]
    [InlineData("ab")]
    [InlineData("a_b_c")]
    public async Task EveryOperation_WhenTheBucketNameIsInvalid_IsRefused(string bucket)
    {
        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => Store.WriteAsync(bucket, "a.txt", (_, _) => Task.CompletedTask));
        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => Store.OpenReadAsync(bucket, "a.txt"));
        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => Store.StatAsync(bucket, "a.txt"));
        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => ToListAsync(Store.ListAsync(bucket, "")));
        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => Store.DeleteAsync(bucket, "a.txt"));
    }

    [Fact]
    public async Task GetLocalFile_HoldsTheObjectsBytes()
    {
        await WriteTextAsync("alice/clip.mp4", "hello");

        await using var lease = await Store.GetLocalFileAsync(Bucket, "alice/clip.mp4");

        Assert.Equal("hello", await File.ReadAllTextAsync(lease.Path));
        Assert.EndsWith(".mp4", lease.Path, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UploadAndDownloadFile_CopyTheBytesBothWays()
    {
        var source = Path.GetTempFileName();
        var copy = Path.GetTempFileName();
        try
        {
            var bytes = new byte[300_000];
            new Random(7).NextBytes(bytes);
            await File.WriteAllBytesAsync(source, bytes);

            var info = await Store.UploadFileAsync(Bucket, "alice/file.bin", source);
            await Store.DownloadFileAsync(Bucket, "alice/file.bin", copy);

            Assert.Equal(bytes.Length, info.Size);
            Assert.Equal(bytes, await File.ReadAllBytesAsync(copy));
        }
        finally
        {
            File.Delete(source);
            File.Delete(copy);
        }
    }

    protected Task<ObjectInfo> WriteTextAsync(string key, string text) =>
        Store.WriteAsync(Bucket, key, (stream, ct) => stream.WriteAsync(Encoding.UTF8.GetBytes(text), ct).AsTask());

    protected async Task<string> ReadTextAsync(string key)
    {
        await using var stream = await Store.OpenReadAsync(Bucket, key);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    protected Task<List<ObjectInfo>> ListAsync(string prefix) => ToListAsync(Store.ListAsync(Bucket, prefix));

    protected static async Task<List<ObjectInfo>> ToListAsync(IAsyncEnumerable<ObjectInfo> items)
    {
        var list = new List<ObjectInfo>();
        await foreach (var item in items)
        {
            list.Add(item);
        }

        return list;
    }
}
