using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace GEdge.Storage.Tests;

/// <summary>
/// A video-sized object streamed to and from a real s3rver by a child process (<see cref="Program"/>), so that the
/// process's peak memory is the store's alone and not that of the tests running beside it.
/// </summary>
public sealed class S3LargeObjectTests(S3rverFixture server, ITestOutputHelper output) : IClassFixture<S3rverFixture>
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task A200MiBObject_StreamsUpAndDown_InAProcessWhoseHeapIsCappedFarBelowItsSize()
    {
        const long size = 200 * MiB;
        // A cap like the one a container's memory limit puts on the GC: a store that held the object, or let its
        // buffers pile up, fails with OutOfMemoryException. The store holds at most the pipe (6 MiB) and the Minio
        // client's 16 MiB part; it passes with a 48 MiB cap and fails with 32 MiB.
        const long heapLimit = 64 * MiB;

        var figures = await RunTransferAsync(size, heapLimit);

        foreach (var (name, value) in figures)
        {
            output.WriteLine($"{name} = {value}");
        }

        Assert.Equal(size, long.Parse(figures["written_size"], CultureInfo.InvariantCulture));
        Assert.Equal(size, long.Parse(figures["read_size"], CultureInfo.InvariantCulture));
        Assert.Equal(size, long.Parse(figures["file_size"], CultureInfo.InvariantCulture));
        Assert.Equal("True", figures["read_matches"]);
        Assert.Equal("True", figures["file_matches"]);
        Assert.Equal(heapLimit, long.Parse(figures["gc_heap_limit"], CultureInfo.InvariantCulture));
        var peakGrowth = long.Parse(figures["peak_rss_growth"], CultureInfo.InvariantCulture);
        // Measured: 47-57 MiB (the capped heap, the runtime's own growth, socket buffers); without the cap the GC
        // on a large machine lets the client's discarded 16 MiB parts pile up to about 115 MiB before collecting.
        Assert.True(peakGrowth < 80 * MiB, $"the process's peak resident set grew by {peakGrowth / MiB} MiB while moving {size / MiB} MiB");
    }

    private async Task<Dictionary<string, string>> RunTransferAsync(long size, long heapLimit)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(typeof(Program).Assembly.Location);
        start.ArgumentList.Add(Program.TransferCommand);
        start.ArgumentList.Add(server.Endpoint);
        start.ArgumentList.Add(size.ToString(CultureInfo.InvariantCulture));
        start.Environment["DOTNET_GCHeapHardLimit"] = heapLimit.ToString("X", CultureInfo.InvariantCulture);

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the transfer process.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The transfer process did not finish in 5 minutes:{Environment.NewLine}{await stdout}{await stderr}");
        }

        Assert.True(process.ExitCode == 0, $"The transfer process failed ({process.ExitCode}):{Environment.NewLine}{await stdout}{await stderr}");
        return (await stdout)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('=', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1]);
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
}
