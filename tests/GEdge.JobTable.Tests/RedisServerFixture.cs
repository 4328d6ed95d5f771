using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace GEdge.JobTable.Tests;

/// <summary>
/// Starts a real redis-server on a free loopback port, in a temp folder, without persistence; stops it afterwards.
/// A machine without redis-server fails the tests that use it: the contract is never silently skipped.
/// </summary>
public class RedisServerFixture : ITestServer, IAsyncLifetime
{
    private const string PathVariable = "GEDGE_REDIS_SERVER";
    // A path, not a TempFolder: xunit disposes the fixture through IAsyncLifetime, which CA1001 does not count.
    private readonly string _folder = Directory.CreateTempSubdirectory("gedge-jobtable-tests-").FullName;
    private Process? _process;
    private string _executable = "";
    private int _port;
    private IConnectionMultiplexer[] _connections = [];

    /// <summary>How the server keeps its data: not at all here (the contract needs none).</summary>
    protected virtual IEnumerable<string> PersistenceArguments => ["--save", "", "--appendonly", "no"];

    public string ConnectionString { get; private set; } = "";

    public IReadOnlyList<IConnectionMultiplexer> Connections => _connections;

    public async Task InitializeAsync()
    {
        var configured = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrEmpty(configured) && !File.Exists(configured))
            throw new InvalidOperationException($"{PathVariable} is set to {configured}, which does not exist.");
        _executable = (string.IsNullOrEmpty(configured) ? FindOnPath("redis-server") : configured) ?? throw new InvalidOperationException(
            "redis-server was not found on PATH. The job-table tests must run against a real Redis: install it " +
            $"(Debian: apt-get install redis-server) or set {PathVariable} to the redis-server executable.");

        for (var attempt = 1; ; attempt++)
        {
            _port = TestNetwork.FreeLoopbackPort();
            _process = StartRedis();
            if (await WaitUntilListeningAsync(_process, _port))
            {
                ConnectionString = $"127.0.0.1:{_port}";
                _connections = await TestNetwork.ConnectAsync(ConnectionString);
                return;
            }

            var output = await _process.StandardOutput.ReadToEndAsync() + await _process.StandardError.ReadToEndAsync();
            _process.Dispose();
            // Another process may take the port between our probe and redis-server's bind; try another port then.
            if (attempt == 3 || !output.Contains("Address already in use", StringComparison.Ordinal))
                throw new InvalidOperationException($"redis-server ({_executable}) did not start on port {_port}:{Environment.NewLine}{output}");
        }
    }

    /// <summary>Kills the server outright (SIGKILL, as a crashed or evicted pod): every connection to it drops.</summary>
    public async Task KillAsync()
    {
        _process!.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    /// <summary>Starts the server again on the same port and folder, after <see cref="KillAsync"/>.</summary>
    public async Task StartAgainAsync()
    {
        _process = StartRedis();
        if (!await WaitUntilListeningAsync(_process, _port))
            throw new InvalidOperationException($"redis-server did not start again on port {_port}: {await _process.StandardError.ReadToEndAsync()}");
    }

    public async Task DisposeAsync()
    {
        await TestNetwork.DisposeAllAsync(_connections);
        if (_process is not null)
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
        Directory.Delete(_folder, recursive: true);
    }

    private Process StartRedis()
    {
        var start = new ProcessStartInfo(_executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _folder,
        };
        foreach (var argument in (string[])
                 [
                     "--port", _port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     .. PersistenceArguments, "--dir", _folder, "--daemonize", "no",
                 ])
        {
            start.ArgumentList.Add(argument);
        }
        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {_executable}.");
    }

    private static async Task<bool> WaitUntilListeningAsync(Process process, int port)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(20);
            }
        }
        return false;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);
}
