using System.Globalization;
using System.Net;
using System.Net.Sockets;
using GEdge.JobTable.Embedded;
using StackExchange.Redis;

namespace GEdge.Cli.Cluster;

/// <summary>
/// The local cluster's job table: a real <c>redis-server</c> child when one is installed (the server a cluster runs),
/// with its data and append-only file under the cluster's folder; otherwise the embedded Garnet server in the serve
/// process. The functions connect to either with the same connection string.
/// </summary>
internal abstract class JobTableServer : IAsyncDisposable
{
    /// <summary>The variable that names the redis-server executable, when it is not on the PATH.</summary>
    public const string RedisServerVariable = "GEDGE_REDIS_SERVER";

    /// <summary>The StackExchange.Redis connection string the functions use.</summary>
    public abstract string ConnectionString { get; }

    /// <summary>What it is and where its data lives, for the user.</summary>
    public abstract string Description { get; }

    /// <summary>redis-server if there is one (in <see cref="RedisServerVariable"/> or on the PATH), else Garnet.</summary>
    public static async Task<JobTableServer> StartAsync(string dataRoot, string logDirectory, CancellationToken cancellationToken)
    {
        var configured = Environment.GetEnvironmentVariable(RedisServerVariable);
        if (!string.IsNullOrEmpty(configured) && !File.Exists(configured))
        {
            throw new ClusterStartException($"{RedisServerVariable} is {configured}, which does not exist.");
        }

        var redis = string.IsNullOrEmpty(configured) ? FindOnPath("redis-server") : configured;
        return redis is null
            ? new GarnetJobTable(EmbeddedGarnetServer.Start(new EmbeddedGarnetOptions { DataPath = Path.Combine(dataRoot, "garnet") }))
            : await RedisJobTable.StartAsync(redis, Path.Combine(dataRoot, "redis"), Path.Combine(logDirectory, "redis.log"), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    /// <summary>Completes if the server stops by itself (a child that died); never for an in-process one.</summary>
    public virtual Task Exited => Task.Delay(Timeout.Infinite);

    /// <summary>The exit code of a server that stopped by itself, for the user; null while it runs, or for an in-process one.</summary>
    public virtual int? ExitCode => null;

    /// <summary>
    /// Starts a server that stopped by itself again, on the same port and data folder, and waits until it serves: it
    /// replays its append-only file first, so every write it acknowledged before it died is there again.
    /// </summary>
    public virtual Task RestartAsync(CancellationToken cancellationToken) =>
        throw new NotSupportedException("An in-process job table server does not stop by itself.");

    internal static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);

    private sealed class GarnetJobTable(EmbeddedGarnetServer server) : JobTableServer
    {
        public override string ConnectionString => server.ConnectionString;

        public override string Description => $"{server.ConnectionString} (embedded Garnet, no redis-server installed; data in {server.DataPath})";

        public override ValueTask DisposeAsync() => server.DisposeAsync();
    }

    private sealed class RedisJobTable(ClusterProcess process, int port, string dataPath) : JobTableServer
    {
        private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);
        private static readonly TimeSpan s_firstPoll = TimeSpan.FromMilliseconds(20);
        private static readonly TimeSpan s_longestPoll = TimeSpan.FromMilliseconds(500);
        private readonly IPEndPoint _endPoint = new(IPAddress.Loopback, port);
        private ClusterProcess _process = process;

        public override string ConnectionString => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}");

        public override string Description => $"{ConnectionString} (redis-server, append-only file in {dataPath})";

        public override Task Exited => _process.Exited;

        public override int? ExitCode => _process.ExitCode;

        public static async Task<RedisJobTable> StartAsync(string executable, string dataPath, string logPath, CancellationToken cancellationToken)
        {
            Directory.CreateDirectory(dataPath);
            var pidFile = Path.Combine(dataPath, "redis-server.pid");
            await StopOrphanAsync(pidFile, dataPath).ConfigureAwait(false);
            var port = ClusterPorts.FreeLoopbackPort();
            // The append-only file, fsynced every second, is what makes the jobs survive a restart of the cluster or of the
            // server itself: a write is in the operating system's hands before its reply goes out, so a killed server loses
            // nothing it acknowledged. RDB snapshots are off, so there is one persistence mechanism to reason about.
            var process = ClusterProcess.Start(
                "redis-server",
                executable,
                [
                    "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dataPath,
                    "--appendonly", "yes", "--appendfsync", "everysec", "--save", string.Empty, "--daemonize", "no",
                    "--pidfile", pidFile,
                ],
                new Dictionary<string, string>(),
                logPath);
            var server = new RedisJobTable(process, port, dataPath);
            try
            {
                await server.WaitUntilServingAsync(cancellationToken).ConfigureAwait(false);
                return server;
            }
            catch
            {
                await process.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        // The same command: the same port, so the functions' connections find it again, and the same data folder.
        public override async Task RestartAsync(CancellationToken cancellationToken)
        {
            _process = await _process.StartAgainAsync().ConfigureAwait(false);
            await WaitUntilServingAsync(cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Asks redis-server to SHUTDOWN (it flushes the append-only file), and kills it if it does not stop.</summary>
        public override async ValueTask DisposeAsync()
        {
            if (!_process.Exited.IsCompleted)
            {
                try
                {
                    // SHUTDOWN closes the connection without a reply, which the client's Shutdown expects.
                    await using var connection = await ConnectAsync().ConfigureAwait(false);
                    connection.GetServer(_endPoint).Shutdown();
                }
                catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
                {
                    // Not answering: the kill below ends it.
                }

                await _process.WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }

            await _process.DisposeAsync().ConfigureAwait(false);
        }

        /// <summary>
        /// Stops a redis-server that an earlier serve left on this data folder: one killed outright cannot stop its
        /// child, and two servers appending to one append-only file would corrupt it. Only the process working in this
        /// folder is stopped; a kill loses nothing the server acknowledged, since the file's writes are already in the
        /// operating system's hands.
        /// </summary>
        private static async Task StopOrphanAsync(string pidFile, string dataPath)
        {
            if (!File.Exists(pidFile))
            {
                return;
            }

            // redis-server rewrites its command line, but it works in its --dir: that is how this folder's server is known.
            if (int.TryParse((await File.ReadAllTextAsync(pidFile).ConfigureAwait(false)).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && new DirectoryInfo($"/proc/{pid}/cwd").LinkTarget is { } workingDirectory
                && Path.GetFullPath(workingDirectory) == Path.GetFullPath(dataPath))
            {
                try
                {
                    using var orphan = System.Diagnostics.Process.GetProcessById(pid);
                    orphan.Kill();
                    await orphan.WaitForExitAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    // It ended by itself meanwhile.
                }
            }

            File.Delete(pidFile);
        }

        // Ready means it answers PING: while it replays its append-only file it answers LOADING instead.
        private async Task WaitUntilServingAsync(CancellationToken cancellationToken)
        {
            if (!await _process.WaitUntilReadyAsync(AnswersPingAsync, s_firstPoll, s_longestPoll, s_startTimeout, cancellationToken).ConfigureAwait(false))
            {
                throw new ClusterStartException($"redis-server did not answer on port {port} within {s_startTimeout.TotalSeconds} s. The end of {_process.LogPath}:{Environment.NewLine}{_process.LogTail()}");
            }
        }

        private async ValueTask<bool> AnswersPingAsync(CancellationToken cancellationToken)
        {
            try
            {
                await using var connection = await ConnectAsync().ConfigureAwait(false);
                await connection.GetServer(_endPoint).PingAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (Exception e) when (e is RedisConnectionException or RedisServerException or RedisTimeoutException)
            {
                // Not listening yet, or still LOADING.
                return false;
            }
        }

        // A connection of its own for each question: the functions' connections are theirs, and this one is needed only
        // at start and stop. One attempt each, short timeouts: the waiting and its backoff are WaitUntilReadyAsync's.
        private Task<ConnectionMultiplexer> ConnectAsync() => ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { _endPoint },
            AllowAdmin = true,
            AbortOnConnectFail = true,
            ConnectRetry = 1,
            ConnectTimeout = 1000,
            AsyncTimeout = 1000,
            SyncTimeout = 1000,
            ClientName = "gedge-serve",
        });
    }
}

/// <summary>Loopback ports for the cluster's processes.</summary>
internal static class ClusterPorts
{
    // Below Linux's default ephemeral range (32768-60999), where the ports of outgoing connections come from.
    private const int FirstPort = 10000;
    private const string EphemeralRangeFile = "/proc/sys/net/ipv4/ip_local_port_range";

    /// <summary>
    /// A port free now on the loopback interface, for a process to bind a moment later. Chosen at random below the
    /// kernel's ephemeral range: a port the OS picks for "any free port" comes from that range, which every outgoing
    /// connection also draws from, so between the pick and the bind a busy machine (a load test's hundred uploads) could
    /// hand it to a client socket, and the process would fail with "address already in use".
    /// </summary>
    public static int FreeLoopbackPort()
    {
        var below = EphemeralRangeStart();
        for (var attempt = 0; below > FirstPort && attempt < 100; attempt++)
        {
            var port = Random.Shared.Next(FirstPort, below);
            if (IsFree(port))
            {
                return port;
            }
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    // The first port of the kernel's ephemeral range; 0 (no range known) where there is no such file.
    private static int EphemeralRangeStart()
    {
        try
        {
            var range = File.ReadAllText(EphemeralRangeFile).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return range.Length == 2 && int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out var start) ? start : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>Whether <paramref name="port"/> can be bound on the loopback interface now.</summary>
    public static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
