using System.Diagnostics;
using GEdge.Contracts;
using GEdge.Metrics;
using GEdge.JobTable.Embedded;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace GEdge.JobTable.Tests;

/// <summary>Jobs written to the embedded Garnet server outlive the process that wrote them.</summary>
public sealed class GarnetPersistenceTests : IDisposable
{
    private readonly TempFolder _folder = new("gedge-jobtable-tests-");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Jobs_SurviveStoppingAndStartingTheServerOnTheSameDataFolder()
    {
        IReadOnlyList<object> before;
        await using (var server = StartServer())
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString))
        {
            var table = NewTable(connection);
            await WriteJobsAsync(table);
            before = await ReadEverythingAsync(table);
        }

        await using (var server = StartServer())
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString))
        {
            var table = NewTable(connection);

            Assert.Equivalent(before, await ReadEverythingAsync(table), strict: true);
            Assert.Equal(5, (await table.CreateAsync(new NewJob("carol", "uploads/carol/new.mp4", "mp4", "etag-new"))).Job.Id);
        }
    }

    [Fact]
    public async Task Jobs_SurviveAKilledHostProcess()
    {
        IReadOnlyList<object> before;
        using (var host = await StartHostProcessAsync())
        {
            await using (var connection = await ConnectionMultiplexer.ConnectAsync(host.ConnectionString))
            {
                var table = NewTable(connection);
                await WriteJobsAsync(table);
                before = await ReadEverythingAsync(table);

                // One more write (under another prefix, so `before` still holds), then the kill right after it: SIGKILL,
                // so no checkpoint and no goodbye. The pause covers the log commit that the server issues with every write
                // but does not wait for (see EmbeddedGarnetServer: about a millisecond).
                Assert.True((await NewTable(connection, "persist-last").CreateAsync(LastUpload)).Created);
                await Task.Delay(TimeSpan.FromMilliseconds(50));
                host.Process.Kill(entireProcessTree: true);
            }

            await host.Process.WaitForExitAsync();
        }

        await using (var server = StartServer())
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString))
        {
            var table = NewTable(connection);

            Assert.Equivalent(before, await ReadEverythingAsync(table), strict: true);
            Assert.Equal(5, (await table.CreateAsync(new NewJob("carol", "uploads/carol/new.mp4", "mp4", "etag-new"))).Job.Id);
            var last = await NewTable(connection, "persist-last").CreateAsync(LastUpload);
            Assert.False(last.Created);
            Assert.Equal(1, last.Job.Id);
        }
    }

    [Fact]
    public async Task JobsBeyondWhatTheServerKeepsInMemory_AreReadBackFromTheDataFolder_BeforeAndAfterARestart()
    {
        // Each job cut into 60 segments with a 2 KB field, 600 of them: several MB of records, past the least memory the
        // server can be given (4m), so the oldest spill to disk. The jobs are written one at a time, so what is being
        // changed stays far below that budget (see EmbeddedGarnetOptions.MemorySize for why that matters).
        const int Jobs = 600;
        var starts = Enumerable.Range(0, 60).Select(i => i * 10.0).ToList();
        var payload = new string('x', 2 * 1024);
        Job first;
        IReadOnlyList<JobSegment> firstSegments;
        await using (var server = StartServer(memorySize: "4m"))
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString))
        {
            var table = NewTable(connection);
            for (var i = 1; i <= Jobs; i++)
            {
                var id = (await table.CreateAsync(new NewJob("alice", $"uploads/clip{i}.mp4", "mp4", $"etag-{i}"))).Job.Id;
                Assert.True(await table.TryClaimAsync(id, JobStatus.Preprocessing));
                Assert.True(await table.SplitAsync(id, starts, new Dictionary<string, string> { ["payload"] = payload + i }));
            }

            // Garnet's own account of its log: what lies below the head address is on disk only.
            await using (var admin = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString + ",allowAdmin=true"))
            {
                var store = (await admin.GetServers()[0].InfoAsync("store")).SelectMany(group => group).ToDictionary(pair => pair.Key, pair => pair.Value);
                Assert.True(long.Parse(store["Log.HeadAddress"]) > long.Parse(store["Log.BeginAddress"]), $"every record is still in memory: {string.Join(", ", store)}");
            }

            first = (await table.GetAsync(1))!;
            firstSegments = await table.GetSegmentsAsync(1);
            Assert.Equal(payload + 1, first.Fields["payload"]);
            Assert.Equal(60, firstSegments.Count);
            Assert.Equal(Jobs, (await table.ListByUserAsync("alice", 0, 10)).Total);
        }

        await using (var server = StartServer(memorySize: "4m"))
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString))
        {
            var table = NewTable(connection);

            Assert.Equivalent(first, await table.GetAsync(1), strict: true);
            Assert.Equivalent(firstSegments, await table.GetSegmentsAsync(1), strict: true);
            Assert.Equal(payload + Jobs, (await table.GetAsync(Jobs))!.Fields["payload"]);
            Assert.Equal(Jobs + 1, (await table.CreateAsync(new NewJob("carol", "uploads/carol/new.mp4", "mp4", "etag-new"))).Job.Id);
        }
    }

    [Fact]
    public async Task Start_OnADataFolderAlreadyInUse_FailsWithAClearError()
    {
        await using var first = StartServer();

        var error = Assert.Throws<JobTableInUseException>(() => StartServer());

        Assert.Equal(_folder.Path, error.DataPath);
        Assert.StartsWith($"the job table in {_folder.Path} is in use by another gedge process", error.Message, StringComparison.Ordinal);
    }

    private EmbeddedGarnetServer StartServer(string? memorySize = null)
    {
        var options = new EmbeddedGarnetOptions { DataPath = _folder.Path };
        return EmbeddedGarnetServer.Start(memorySize is null ? options : options with { MemorySize = memorySize });
    }

    private static readonly NewJob LastUpload = new("dave", "uploads/dave/last.mp4", "mp4", "etag-last");

    private JobTable NewTable(IConnectionMultiplexer connection, string prefix = "persist") =>
        new(connection, Options.Create(new JobTableOptions { KeyPrefix = prefix }), _time, new GEdgeMetrics(), NullLogger<JobTable>.Instance);

    /// <summary>Four jobs that exercise every kind of write: counter, indexes, lease, retry, exit, extra fields.</summary>
    private async Task WriteJobsAsync(JobTable table)
    {
        for (var i = 1; i <= 4; i++)
            Assert.True((await table.CreateAsync(new NewJob(i % 2 == 0 ? "bob" : "alice", $"uploads/clip{i}.mp4", "mp4", $"etag-{i}"))).Created);

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(await table.TryClaimAsync(1, JobStatus.Preprocessing, TimeSpan.FromSeconds(30)));
        Assert.True(await table.TryClaimAsync(2, JobStatus.Preprocessing));
        Assert.True(await table.TryTransitionAsync(2, JobStatus.Preprocessing, JobStatus.Preprocessing_complete,
            new Dictionary<string, string> { ["frame_count"] = "120" }));
        Assert.True(await table.TryClaimAsync(3, JobStatus.Preprocessing));
        Assert.Equal(FailureResult.Retried, (await table.FailAttemptAsync(3, JobStatus.Preprocessing, "decoder crashed")).Result);
        Assert.True(await table.ExitWithErrorAsync(4, "cancelled"));
    }

    private static async Task<IReadOnlyList<object>> ReadEverythingAsync(JobTable table)
    {
        var everything = new List<object>();
        for (var id = 1; id <= 4; id++)
            everything.Add((await table.GetAsync(id))!);
        foreach (var status in JobStateMachine.Statuses)
            everything.Add((await table.ListByStatusAsync(status, 10)).Select(j => j.Id).ToArray());
        everything.Add((await table.ListByUserAsync("alice", 0, 10)).Jobs.Select(j => j.Id).ToArray());
        everything.Add((await table.ListByUserAsync("bob", 0, 10)).Jobs.Select(j => j.Id).ToArray());
        everything.Add((await table.ListExpiredLeasesAsync(DateTimeOffset.MaxValue, 10)).Select(j => j.Id).ToArray());
        // Resubmitting an upload must still find its job, not make a new one.
        everything.Add((await table.CreateAsync(new NewJob("alice", "uploads/clip1.mp4", "mp4", "etag-1"))).Created);
        Assert.Equal(7, everything.Count(o => o is long[] { Length: > 0 }));
        return everything;
    }

    private async Task<HostProcess> StartHostProcessAsync()
    {
        var assembly = typeof(Program).Assembly.Location;
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add(assembly);
        start.ArgumentList.Add(Program.HostCommand);
        start.ArgumentList.Add(_folder.Path);
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the Garnet host process.");

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        if (line is null || !line.StartsWith("ready ", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"The Garnet host process did not start: {line}{Environment.NewLine}{await process.StandardError.ReadToEndAsync()}");
        }
        return new HostProcess(process, $"127.0.0.1:{line["ready ".Length..]}");
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";

    private sealed record HostProcess(Process Process, string ConnectionString) : IDisposable
    {
        public void Dispose()
        {
            if (!Process.HasExited)
                Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }
}
