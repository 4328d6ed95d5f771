using System.Collections;
using System.Globalization;
using System.Net;
using System.Reflection;
using Garnet;
using Garnet.server;
using GEdge.JobTable.Embedded;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace GEdge.JobTable.Tests;

/// <summary>What the embedded server does to the process it runs in.</summary>
public sealed class EmbeddedGarnetServerTests : IDisposable
{
    private readonly TempFolder _folder = new("gedge-jobtable-tests-");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Start_KeepsEnoughPoolThreads_ThatGarnetsBlockingWaitsDoNotStallTheProcess()
    {
        // Garnet blocks pool threads (a SAVE waits for its checkpoint on the network thread; disposing the store waits for
        // its size tracker's task), and a starved pool adds a thread only every half second or so: at the machine's
        // default minimum (its core count) a shutdown stalled in a third of `gedge run`s on 2 cores.
        ThreadPool.GetMinThreads(out _, out var completionThreads);
        ThreadPool.SetMinThreads(Environment.ProcessorCount, completionThreads);

        await using var server = EmbeddedGarnetServer.Start(new EmbeddedGarnetOptions { DataPath = _folder.Path });

        ThreadPool.GetMinThreads(out var workerThreads, out _);
        Assert.True(workerThreads >= 16, $"the pool keeps {workerThreads} worker threads at least; the embedded server asks for 16");
    }

    [Fact]
    public void GarnetOptions_AreWhatGarnetsOwnParserMakesOfTheSameCommandLine()
    {
        // The server is given an options object, not a command line (Garnet's parser took over half its start). This is
        // the command line those options stand for; Garnet's own parser, reached by reflection because it is internal,
        // must make the same object of it, every field compared, private ones of nested objects included.
        var options = new EmbeddedGarnetOptions { DataPath = _folder.Path, MemorySize = "16m", IndexSize = "2m", CheckpointInterval = TimeSpan.FromSeconds(90) };
        var dataPath = Path.GetFullPath(_folder.Path);
        const int port = 6390;
        string[] commandLine =
        [
            "--bind", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture),
            "--lua", "--lua-transaction-mode",
            "--aof", "--aof-commit-freq", "0",
            "--recover", "--fail-on-recovery-error",
            "--storage-tier", "--logdir", Path.Combine(dataPath, "log"), "--checkpointdir", Path.Combine(dataPath, "checkpoints"),
            "--checkpoint-freq", "90",
            "--device-type", "RandomAccess",
            "--memory", "16m", "--page", "1m", "--aof-memory", "4m", "--aof-page-size", "2m", "--index", "2m",
            "--minthreads", "16",
            "-q",
        ];

        var ours = EmbeddedGarnetServer.GarnetOptions(options, dataPath, port);
        var garnets = ParsedByGarnet(commandLine);

        Assert.Empty(Differences(ours, garnets, "options"));
        // The comparison sees a difference where there is one (here, in a private field of the device factory).
        var otherDevice = EmbeddedGarnetServer.GarnetOptions(options, dataPath, port);
        otherDevice.DeviceFactoryCreator = new Tsavorite.core.LocalStorageNamedDeviceFactoryCreator(deviceType: Tsavorite.core.DeviceType.Native);
        Assert.NotEmpty(Differences(otherDevice, garnets, "options"));
    }

    [Theory]
    [InlineData("lots", "JobTable:Embedded:MemorySize must be a size")]
    [InlineData("8q", "JobTable:Embedded:MemorySize must be a size")]
    [InlineData("0", "JobTable:Embedded:MemorySize must be a size")]
    [InlineData("2m", "JobTable:Embedded:MemorySize must be at least 4m")]
    [InlineData("512k", "JobTable:Embedded:MemorySize must be at least 4m")]
    public void Start_WithAMemorySizeGarnetCannotUse_SaysWhichSettingAndWhy(string size, string why)
    {
        var error = Assert.Throws<ArgumentException>(() => EmbeddedGarnetServer.Start(new EmbeddedGarnetOptions { DataPath = _folder.Path, MemorySize = size }));

        Assert.Contains(why, error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{size}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithTheLeastMemory_Starts()
    {
        await using var server = EmbeddedGarnetServer.Start(new EmbeddedGarnetOptions { DataPath = _folder.Path, MemorySize = "4m" });
        await using var connection = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString);

        var db = connection.GetDatabase();
        Assert.True(await db.HashSetAsync("least-memory", "field", "value"));
        Assert.Equal("value", await db.HashGetAsync("least-memory", "field"));
    }

    private static GarnetServerOptions ParsedByGarnet(string[] commandLine)
    {
        var parser = typeof(GarnetServer).Assembly.GetType("Garnet.ServerSettingsManager", throwOnError: true)!
            .GetMethod("TryParseCommandLineArguments", BindingFlags.Static | BindingFlags.NonPublic)
            ?? throw new MissingMethodException("Garnet.ServerSettingsManager", "TryParseCommandLineArguments");
        object?[] arguments = [commandLine, null, null, null, null, true, null];
        Assert.True((bool)parser.Invoke(null, arguments)!, $"Garnet's parser refused the command line: {string.Join(' ', commandLine)}");
        var parsed = arguments[1]!;
        return (GarnetServerOptions)parsed.GetType().GetMethod("GetServerOptions")!.Invoke(parsed, [null])!;
    }

    /// <summary>Every field of the two objects that differs, walked through nested objects and collections; loggers are skipped.</summary>
    private static List<string> Differences(object? ours, object? garnets, string path, int depth = 0)
    {
        if (ours is null || garnets is null)
            return ours is null && garnets is null ? [] : [$"{path}: {ours ?? "null"} here, {garnets ?? "null"} from Garnet's parser"];
        var type = ours.GetType();
        if (type != garnets.GetType())
            return [$"{path}: a {type} here, a {garnets.GetType()} from Garnet's parser"];
        if (ours is ILogger or ILoggerFactory)
            return [];
        if (type.IsPrimitive || type.IsEnum || ours is string or TimeSpan or EndPoint)
            return ours.Equals(garnets) ? [] : [$"{path}: {ours} here, {garnets} from Garnet's parser"];
        if (ours is IEnumerable oursItems)
        {
            var a = oursItems.Cast<object?>().ToList();
            var b = ((IEnumerable)garnets).Cast<object?>().ToList();
            return a.Count != b.Count
                ? [$"{path}: {a.Count} items here, {b.Count} from Garnet's parser"]
                : a.Zip(b).SelectMany((pair, i) => Differences(pair.First, pair.Second, $"{path}[{i}]", depth + 1)).ToList();
        }
        if (depth > 4)
            return [];
        var differences = new List<string>();
        for (var declaring = type; declaring is not null && declaring != typeof(object); declaring = declaring.BaseType)
        {
            foreach (var field in declaring.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                differences.AddRange(Differences(field.GetValue(ours), field.GetValue(garnets), $"{path}.{field.Name}", depth + 1));
        }

        return differences;
    }
}
