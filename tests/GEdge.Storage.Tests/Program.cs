using System.Globalization;
using System.Security.Cryptography;
using GEdge.Storage.S3;

namespace GEdge.Storage.Tests;

/// <summary>
/// Entry point of the child process that <see cref="S3LargeObjectTests"/> measures: it streams a large object to an
/// S3 server and back, alone in its process, so that the process's peak memory is the store's and nothing else's.
/// It prints one <c>name=value</c> line per figure.
/// </summary>
public static class Program
{
    public const string TransferCommand = "s3-transfer";
    private const long MiB = 1024 * 1024;

    public static async Task<int> Main(string[] args)
    {
        if (args is not [TransferCommand, var endpoint, var sizeText] || !long.TryParse(sizeText, CultureInfo.InvariantCulture, out var size))
        {
            await Console.Error.WriteLineAsync($"usage: {TransferCommand} <host:port> <bytes>");
            return 2;
        }

        var options = new S3StorageOptions { Endpoint = endpoint, AccessKey = S3rverFixture.AccessKey, SecretKey = S3rverFixture.AccessKey };
        using var store = new S3ObjectStore(options, logger: null, new SocketsHttpHandler());
        var bucket = $"test-{Guid.NewGuid():N}";

        // Warm up the client, the connection pool and the code paths, so their one-time costs are not counted.
        await store.WriteAsync(bucket, "warm-up.bin", (stream, ct) => S3ObjectStoreTests.Generate(6 * MiB, stream, hash: null, ct));
        await S3ObjectStoreTests.HashAsync(await store.OpenReadAsync(bucket, "warm-up.bin"));
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        var baseline = PeakResidentSet.Reset();
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var started = DateTime.UtcNow;

        using var writtenHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var written = await store.WriteAsync(bucket, "videos/big.bin", (stream, ct) => S3ObjectStoreTests.Generate(size, stream, writtenHash, ct));
        var writeSeconds = (DateTime.UtcNow - started).TotalSeconds;
        var (readSize, readHash) = await S3ObjectStoreTests.HashAsync(await store.OpenReadAsync(bucket, "videos/big.bin"));
        long fileSize;
        byte[] fileHash;
        await using (var lease = await store.GetLocalFileAsync(bucket, "videos/big.bin"))
        {
            (fileSize, fileHash) = await S3ObjectStoreTests.HashAsync(File.OpenRead(lease.Path));
        }

        var hash = Convert.ToHexString(writtenHash.GetHashAndReset());
        var gc = GC.GetGCMemoryInfo(GCKind.Any);
        Console.WriteLine($"written_size={written.Size}");
        Console.WriteLine($"read_size={readSize}");
        Console.WriteLine($"file_size={fileSize}");
        Console.WriteLine($"read_matches={hash == Convert.ToHexString(readHash)}");
        Console.WriteLine($"file_matches={hash == Convert.ToHexString(fileHash)}");
        Console.WriteLine($"write_seconds={writeSeconds.ToString("F1", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"total_seconds={(DateTime.UtcNow - started).TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"peak_rss_growth={PeakResidentSet.Read() - baseline}");
        Console.WriteLine($"allocated={GC.GetTotalAllocatedBytes(precise: true) - allocated}");
        Console.WriteLine($"gc_heap_limit={gc.TotalAvailableMemoryBytes}");
        Console.WriteLine($"gen2_collections={GC.CollectionCount(2)}");
        return 0;
    }

    /// <summary>The kernel's record of this process's peak resident set (VmHWM), which writing 5 to clear_refs resets.</summary>
    private static class PeakResidentSet
    {
        public static long Reset()
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return Field("VmRSS");
        }

        public static long Read() => Field("VmHWM");

        private static long Field(string name)
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith(name + ":", StringComparison.Ordinal))
                {
                    // "VmHWM:    123456 kB"
                    return long.Parse(line[(name.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                }
            }

            throw new InvalidOperationException($"/proc/self/status has no {name}.");
        }
    }
}
