using System.Text;
using GEdge.Storage;

namespace GEdge.Storage.Tests;

public sealed class LocalFolderObjectStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("gedge-store-").FullName;
    private readonly LocalFolderObjectStore _store;

    public LocalFolderObjectStoreTests() => _store = new LocalFolderObjectStore(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Write_ThenRead_ReturnsTheSameBytes()
    {
        var info = await WriteTextAsync("alice/a.txt", "hello");

        Assert.Equal(5, info.Size);
        Assert.Equal("hello", await ReadTextAsync("alice/a.txt"));
        Assert.Equal(info.ETag, (await _store.StatAsync("uploads", "alice/a.txt"))!.ETag);
    }

    [Fact]
    public async Task Write_WhenTheWriterThrows_PublishesNothingAndKeepsTheEarlierObject()
    {
        await WriteTextAsync("alice/a.txt", "first");

        await Assert.ThrowsAsync<InvalidOperationException>(() => _store.WriteAsync("uploads", "alice/a.txt", async (stream, ct) =>
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes("half of the sec"), ct);
            throw new InvalidOperationException("writer died");
        }));

        Assert.Equal("first", await ReadTextAsync("alice/a.txt"));
        Assert.Single(await ListAsync("alice/"));
    }

    [Fact]
    public async Task Write_WhileInProgress_IsNotVisibleToReadersOrListings()
    {
        var writing = new TaskCompletionSource();
        var finish = new TaskCompletionSource();
        var write = _store.WriteAsync("uploads", "alice/slow.bin", async (stream, ct) =>
        {
            await stream.WriteAsync(new byte[100], ct);
            writing.SetResult();
            await finish.Task;
        });
        await writing.Task;

        Assert.Null(await _store.StatAsync("uploads", "alice/slow.bin"));
        Assert.Empty(await ListAsync("alice/"));

        finish.SetResult();
        await write;
        Assert.Equal(100, (await _store.StatAsync("uploads", "alice/slow.bin"))!.Size);
    }

    [Fact]
    public async Task List_ReturnsOnlyKeysUnderThePrefix_InKeyOrder()
    {
        await WriteTextAsync("bob/x.txt", "b");
        await WriteTextAsync("alice/2.txt", "2");
        await WriteTextAsync("alice/1.txt", "1");
        await WriteTextAsync("alice/sub/3.txt", "3");

        Assert.Equal(["alice/1.txt", "alice/2.txt", "alice/sub/3.txt"], (await ListAsync("alice/")).Select(o => o.Key));
    }

    [Fact]
    public async Task DeletePrefix_RemovesEveryObjectUnderIt_AndNothingElse()
    {
        await WriteTextAsync("jobs/1/frames/000000.raw", "a");
        await WriteTextAsync("jobs/1/frames.json", "b");
        await WriteTextAsync("jobs/10/frames.json", "c");

        var removed = await _store.DeletePrefixAsync("uploads", "jobs/1/");

        Assert.Equal(2, removed);
        Assert.Equal(["jobs/10/frames.json"], (await ListAsync("jobs/")).Select(o => o.Key));
        Assert.False(Directory.Exists(Path.Combine(_root, "uploads", "jobs", "1")));
    }

    [Fact]
    public async Task OpenRead_WhenObjectIsMissing_ThrowsObjectNotFound() =>
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => _store.OpenReadAsync("uploads", "alice/none.mp4"));

    [Theory]
    [InlineData("../outside.txt")]
    [InlineData("/tmp/outside.txt")]
    [InlineData("alice/../../outside.txt")]
    public async Task Write_WhenKeyWouldLeaveTheBucket_IsRefusedAndWritesNothing(string key)
    {
        await Assert.ThrowsAsync<InvalidObjectKeyException>(() => WriteTextAsync(key, "x"));

        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(_root)!, "outside.txt"));
        Assert.False(File.Exists("/tmp/outside.txt"));
    }

    [Fact]
    public async Task GetLocalFile_ReturnsTheObjectsOwnFile_AndKeepsItAfterDispose()
    {
        await WriteTextAsync("alice/a.txt", "hello");

        string path;
        await using (var lease = await _store.GetLocalFileAsync("uploads", "alice/a.txt"))
        {
            path = lease.Path;
            Assert.Equal("hello", await File.ReadAllTextAsync(path));
        }

        Assert.True(File.Exists(path));
    }

    private Task<ObjectInfo> WriteTextAsync(string key, string text) =>
        _store.WriteAsync("uploads", key, (stream, ct) => stream.WriteAsync(Encoding.UTF8.GetBytes(text), ct).AsTask());

    private async Task<string> ReadTextAsync(string key)
    {
        await using var stream = await _store.OpenReadAsync("uploads", key);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    private async Task<List<ObjectInfo>> ListAsync(string prefix)
    {
        var items = new List<ObjectInfo>();
        await foreach (var item in _store.ListAsync("uploads", prefix))
        {
            items.Add(item);
        }

        return items;
    }
}
