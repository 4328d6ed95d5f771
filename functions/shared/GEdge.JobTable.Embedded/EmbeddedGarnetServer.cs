using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Garnet;
using Garnet.server;
using Garnet.server.Auth.Settings;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Tsavorite.core;

namespace GEdge.JobTable.Embedded;

/// <summary>
/// An in-process Garnet server on a loopback port that keeps the job table in a local data folder, so that the same
/// StackExchange.Redis code runs with nothing else installed and jobs survive a restart, or a kill, of the process.
/// </summary>
public sealed partial class EmbeddedGarnetServer : IJobTableServer, IAsyncDisposable, IDisposable
{
    private const int PortAttempts = 5;

    /// <summary>The embedded server's activities: <c>job table server</c> (its start, recovery included) and <c>job table checkpoint</c> (at its stop).</summary>
    public static readonly ActivitySource Activities = new("GEdge.JobTable.Embedded");

    /// <summary>The fewest worker threads the process's thread pool keeps (see <see cref="GarnetOptions"/>, --minthreads).</summary>
    private const int MinWorkerThreads = 16;

    private readonly GarnetServer _server;
    private readonly FileStream _lock;
    private readonly ILogger _logger;
    private Task _luaWarmUp = Task.CompletedTask;
    private int _disposed;

    private EmbeddedGarnetServer(GarnetServer server, FileStream dataLock, IPEndPoint endPoint, string dataPath, ILogger logger)
    {
        _server = server;
        _lock = dataLock;
        EndPoint = endPoint;
        DataPath = dataPath;
        _logger = logger;
    }

    /// <summary>The loopback address and port the server listens on.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The full path of the data folder.</summary>
    public string DataPath { get; }

    /// <inheritdoc />
    public string ConnectionString => EndPoint.ToString();

    /// <summary>
    /// Starts a server on the options' data folder, recovering whatever an earlier run left there.
    /// </summary>
    /// <exception cref="IOException">Another server (in this or another process) is using the data folder.</exception>
    public static EmbeddedGarnetServer Start(EmbeddedGarnetOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Problem() is { } problem)
            throw new ArgumentException(problem, nameof(options));

        loggerFactory ??= NullLoggerFactory.Instance;
        using var starting = Activities.StartActivity("job table server");
        var logger = loggerFactory.CreateLogger<EmbeddedGarnetServer>();
        var dataPath = Path.GetFullPath(options.DataPath);
        Directory.CreateDirectory(dataPath);
        var dataLock = LockDataFolder(dataPath);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var port = options.Port != 0 ? options.Port : FreeLoopbackPort();
                var garnetLoggerFactory = new GarnetLoggerFactory(loggerFactory);
                var server = new GarnetServer(GarnetOptions(options, dataPath, port, garnetLoggerFactory.CreateLogger("Options")), garnetLoggerFactory);
                try
                {
                    var recovering = Stopwatch.StartNew();
                    server.Start();
                    var endPoint = new IPEndPoint(IPAddress.Loopback, port);
                    LogStarted(logger, endPoint, dataPath, recovering.ElapsedMilliseconds);
                    var started = new EmbeddedGarnetServer(server, dataLock, endPoint, dataPath, logger);
                    started._luaWarmUp = Task.Run(started.WarmUpLuaAsync);
                    return started;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && options.Port == 0 && attempt < PortAttempts)
                {
                    // Another process took the free port between our probe and Garnet's bind; try another.
                    server.Dispose();
                }
                catch
                {
                    server.Dispose();
                    throw;
                }
            }
        }
        catch
        {
            dataLock.Dispose();
            throw;
        }
    }

    /// <summary>Takes a checkpoint so the next start replays little, then stops the server and releases the data folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;

        await _luaWarmUp.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            using var checkpointing = Activities.StartActivity("job table checkpoint");
            await CheckpointAsync().ConfigureAwait(false);
        }
        finally
        {
            _server.Dispose();
            await _lock.DisposeAsync().ConfigureAwait(false);
            LogStopped(_logger, EndPoint);
        }
    }

    /// <summary>As <see cref="DisposeAsync"/>, for containers that dispose synchronously.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// Garnet brings its Lua engine up with the first script the process runs (its command table imported, the script
    /// runner's code compiled, for every connection at once): measured on 2 cores, a job's first script (the one that
    /// creates it) took about 95 ms with that in it and 35 ms after a script on another connection had paid it. So a
    /// script that does nothing runs on a connection of its own as soon as the server listens, while the host connects,
    /// starts and clears earlier runs. Best effort: if it fails, the first job's script pays the cost as before.
    /// </summary>
    private async Task WarmUpLuaAsync()
    {
        try
        {
            var configuration = new ConfigurationOptions { EndPoints = { EndPoint }, ConnectTimeout = 5000 };
            await using var connection = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
            await connection.GetDatabase().ScriptEvaluateAsync("return 1").ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or SocketException)
        {
            LogLuaWarmUpFailed(_logger, e.Message);
        }
    }

    private async Task CheckpointAsync()
    {
        // Nothing depends on this checkpoint (the append-only log already holds every acknowledged write); it only
        // shortens the next recovery, so a failure is logged, not thrown.
        try
        {
            var configuration = new ConfigurationOptions { EndPoints = { EndPoint }, AllowAdmin = true, ConnectTimeout = 5000 };
            await using var admin = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
#pragma warning disable CS0618 // A foreground save blocks other clients; at shutdown there are none left to block.
            await admin.GetServer(EndPoint).SaveAsync(SaveType.ForegroundSave).ConfigureAwait(false);
#pragma warning restore CS0618
        }
        catch (Exception e) when (e is RedisException or TimeoutException or SocketException)
        {
            LogCheckpointFailed(_logger, e, EndPoint);
        }
    }

    /// <summary>
    /// The Garnet server's options. Built as the object Garnet's own command-line parser makes of the options named in
    /// brackets below, not by handing Garnet that command line: its parser (CommandLineParser over some 150 options by
    /// reflection, twice, its defaults.conf read as JSON, a validation pass and a JSON dump of the result) took 125-150 ms
    /// of a start of about 240 ms on 2 cores in a ReadyToRun process, against 4 ms for this object (a throwaway probe
    /// timing each step in fresh processes). <c>EmbeddedGarnetServerTests.GarnetOptions_AreWhatGarnetsOwnParserMakes...</c>
    /// compares every field, private ones included, with what the parser makes of that command line, so a Garnet upgrade
    /// that changes a default, or a choice made here and not there, fails there. Each choice, and why:
    /// <list type="bullet">
    /// <item>EnableAOF, CommitFrequencyMs 0 (--aof, --aof-commit-freq 0): every write goes to the append-only log, and its
    /// commit (the write to the file) is issued as soon as the operation completes, so a killed process loses at most the
    /// writes whose commit was still in flight (about a millisecond on a local disk). Not WaitForCommit
    /// (--aof-commit-wait), which would close that window: in Garnet 2.2.8 a Lua script in transaction mode keeps its key
    /// locks while it waits for the commit, so scripts that share a hot key (the job counter, one job's hash) queue behind
    /// one another's disk writes and then stall for seconds (measured on 2 cores: 1,000 concurrent creates over 8
    /// connections took about 6 s instead of 0.25 s, past the client's 5 s timeout). Nothing is lost on a clean stop:
    /// disposing takes a checkpoint.</item>
    /// <item>Recover, FailOnRecoveryError (--recover, --fail-on-recovery-error): start from the last checkpoint plus the
    /// log; if the data cannot be read, refuse to start rather than come up empty and hand out job numbers again.</item>
    /// <item>EnableStorageTier with LogDir (--storage-tier, --logdir): without it Garnet is a cache and drops the oldest
    /// records once LogMemorySize is full; with it they move to the data folder and stay readable.</item>
    /// <item>CheckpointFrequencySecs (--checkpoint-freq): periodic checkpoints keep the log that a restart replays short.</item>
    /// <item>DeviceType RandomAccess (--device-type RandomAccess), with the device factory the parser makes for it:
    /// Garnet's Linux default is its native device, which needs libaio; Debian 12 images do not have it (and the shipped
    /// library wants the Debian 13 soname, libaio.so.1t64), and the failure shows only at the first disk read, not at
    /// start. The managed .NET RandomAccess device needs nothing native, and the job table's disk traffic is far too
    /// small for the native device's throughput to matter.</item>
    /// <item>EnableLua, LuaTransactionMode, LuaOptions (--lua, --lua-transaction-mode): the job table's compare-and-set
    /// scripts need Lua, and Garnet runs a script atomically only in transaction mode (locking the keys the script
    /// declares); without it concurrent claims of one job can both succeed. The Lua options are defaults.conf's.</item>
    /// <item>LogMemorySize, PageSize, AofMemorySize, AofPageSize, IndexMemorySize (--memory, --page, --aof-memory,
    /// --aof-page-size, --index): sized for a job table inside a process that does the work too. Garnet 2.2.8's defaults
    /// (a 16 GB log of 16 MB pages, a 128 MB append-only-file buffer of 32 MB pages) are allocated up front as pinned
    /// arrays, and the process's resident memory grew as writes touched more of them: at 64m of log and the default
    /// buffer, `gedge run`'s resident memory rose by about 60 MB over a two-minute video, with the managed heaps flat.
    /// Pages of 1 MB, a log of <see cref="EmbeddedGarnetOptions.MemorySize"/> (kept well above what the jobs being worked
    /// on hold: a smaller budget makes Garnet flush records that are still changing, and crash; see there), and the
    /// smallest buffer Garnet allows for them (its pages at least twice the log's, itself at least two pages: Garnet's own
    /// rules for these options, in its defaults.conf).</item>
    /// <item>ThreadPoolMinThreads (--minthreads): at least <see cref="MinWorkerThreads"/> worker threads in the process's
    /// thread pool (Garnet calls ThreadPool.SetMinThreads with it). Garnet blocks pool threads in places (SAVE waits for
    /// its checkpoint on the network thread; disposing the store spins until its log-size tracker's task, itself waiting
    /// for a pool thread, has stopped), and a pool that has no free thread adds one only after about half a second. On 2
    /// cores (a minimum of 2) that stalled `gedge run` in a third of runs: stacks taken with dotnet-stack during a slow
    /// shutdown showed the store's dispose in LogSizeTracker.Stop, and a probe of 30 SAVEs on an idle server saw
    /// 700-1,700 ms stalls in the checkpoint's WAIT_FLUSH phase in 10 of 30 with the default minimum and none with 16.</item>
    /// <item>QuietMode (-q): no banner on the console; logs go to the host's logger factory.</item>
    /// <item>The rest as the parser leaves them: where the class's initial value differs from defaults.conf, the last six
    /// set defaults.conf's (AuthSettings: no authentication, as the server listens on loopback only).</item>
    /// </list>
    /// </summary>
    internal static GarnetServerOptions GarnetOptions(EmbeddedGarnetOptions options, string dataPath, int port, ILogger? logger = null) =>
        new(logger)
        {
            EndPoints = [new IPEndPoint(IPAddress.Loopback, port)],
            EnableAOF = true,
            CommitFrequencyMs = 0,
            Recover = true,
            FailOnRecoveryError = true,
            EnableStorageTier = true,
            LogDir = Path.Combine(dataPath, "log"),
            CheckpointDir = Path.Combine(dataPath, "checkpoints"),
            CheckpointFrequencySecs = (int)options.CheckpointInterval.TotalSeconds,
            DeviceType = DeviceType.RandomAccess,
            DeviceFactoryCreator = new LocalStorageNamedDeviceFactoryCreator(
                preallocateFile: false, deleteOnClose: false, disableFileBuffering: true, throttleLimit: null, DeviceType.RandomAccess,
                numCompletionThreads: 4, readOnly: false, logger, new NativeDeviceOptions()),
            EnableLua = true,
            LuaTransactionMode = true,
            LuaOptions = new LuaOptions(LuaMemoryManagementMode.Native, memoryLimit: null, Timeout.InfiniteTimeSpan, LuaLoggingMode.Enable, allowedFunctions: [], logger),
            LogMemorySize = options.MemorySize,
            PageSize = "1m",
            AofMemorySize = "4m",
            AofPageSize = "2m",
            IndexMemorySize = options.IndexSize,
            ThreadPoolMinThreads = MinWorkerThreads,
            QuietMode = true,
            AuthSettings = new NoAuthSettings(),
            AofTailWitnessFreqMs = 10,
            LogLevel = LogLevel.Warning,
            NetworkBufferPoolSize = "64m",
            NetworkBufferMemoryBudget = "1g",
            RevivifiableFraction = 1.0,
        };

    /// <summary>
    /// Holds the data folder for this server's lifetime. Two servers recovering and appending to the same log would
    /// corrupt it; the lock turns that into a clear error. The operating system drops it if the process dies.
    /// </summary>
    private static FileStream LockDataFolder(string dataPath)
    {
        var lockPath = Path.Combine(dataPath, "garnet.lock");
        try
        {
            return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new JobTableInUseException(dataPath, e);
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded Garnet job table listening on {EndPoint}, data in {DataPath} (recovered in {ElapsedMs} ms)")]
    private static partial void LogStarted(ILogger logger, IPEndPoint endPoint, string dataPath, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded Garnet job table on {EndPoint} stopped")]
    private static partial void LogStopped(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The Lua engine could not be warmed up ({Reason}); the first script pays its start")]
    private static partial void LogLuaWarmUpFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint of the embedded Garnet job table on {EndPoint} failed; the next start replays the whole log")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception, IPEndPoint endPoint);
}

/// <summary>
/// The embedded job table's data folder is held by another process (another <c>gedge run</c> in the same folder): one
/// server at a time may recover and append to its log.
/// </summary>
public sealed class JobTableInUseException(string dataPath, Exception inner)
    : IOException($"the job table in {dataPath} is in use by another gedge process (its lock, {Path.Combine(dataPath, "garnet.lock")}, is held); wait for it to end, or run in another folder.", inner)
{
    /// <summary>The data folder that is in use.</summary>
    public string DataPath { get; } = dataPath;
}
