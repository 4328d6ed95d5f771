using GEdge.Contracts;

namespace GEdge.Storage.Tests;

/// <summary>The store contract on the embedded default, a folder per bucket, plus what only a folder does.</summary>
public sealed class LocalFolderObjectStoreTests : ObjectStoreContract, IDisposable
{
    private readonly string _root;

    public LocalFolderObjectStoreTests()
        : this(Directory.CreateTempSubdirectory("gedge-store-").FullName)
    {
    }

    private LocalFolderObjectStoreTests(string root)
        : base(new LocalFolderObjectStore(root)) => _root = root;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Write_ThatFails_AlsoRemovesTheFoldersItMade_ButNotOnesInUse()
    {
        await WriteTextAsync("alice/kept.txt", "a");

        await Assert.ThrowsAsync<IOException>(() => Store.WriteAsync(Bucket, "alice/2025/06/x.bin", (_, _) => throw new IOException("the client hung up")));

        Assert.False(Directory.Exists(Path.Combine(_root, Bucket, "alice", "2025")));
        Assert.True(File.Exists(Path.Combine(_root, Bucket, "alice", "kept.txt")));
    }

    [Fact]
    public async Task DeletePrefix_AlsoRemovesTheFoldersItEmptied()
    {
        await WriteTextAsync("jobs/1/frames/000000.raw", "a");
        await WriteTextAsync("jobs/10/frames.json", "c");

        await Store.DeletePrefixAsync(Bucket, "jobs/1/");

        Assert.False(Directory.Exists(Path.Combine(_root, Bucket, "jobs", "1")));
        Assert.True(Directory.Exists(Path.Combine(_root, Bucket, "jobs", "10")));
    }

    [Theory]
    [InlineData("../outside.txt")]
    [InlineData("/tmp/outside.txt")]
    [InlineData("alice/../../outside.txt")]
    public async Task Write_WhenKeyWouldLeaveTheBucket_CreatesNoFileOutsideIt(string key)
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
        await using (var lease = await Store.GetLocalFileAsync(Bucket, "alice/a.txt"))
        {
            path = lease.Path;
            Assert.Equal(Path.Combine(_root, Bucket, "alice", "a.txt"), path);
        }

        Assert.True(File.Exists(path));
    }
}
