using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using GEdge.Contracts;
using GEdge.Gateway;
using GEdge.JobTable;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GEdge.Cluster.Tests;

/// <summary>
/// A real local cluster for a test class: <c>dotnet gedge.dll serve --port 0</c> in a temp folder, so redis-server, the
/// broker and the four functions run as separate processes on free loopback ports. Ready when serve says so; stopped
/// with SIGTERM, as Ctrl+C would, and its folder deleted. A missing redis-server or ffmpeg fails, never skips.
/// </summary>
public partial class ClusterFixture : IAsyncLifetime
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromMinutes(3);
    private readonly List<string> _output = [];
    private TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _serve;

    /// <summary>The cluster's working folder (serve's .gedge/cluster is under it).</summary>
    public string Root { get; } = Directory.CreateTempSubdirectory("gedge-cluster-").FullName;

    /// <summary>The address of each process by name: gateway, broker, preprocess, infer, postprocess.</summary>
    public IReadOnlyDictionary<string, Uri> Services { get; private set; } = new Dictionary<string, Uri>();

    public Uri Gateway => Services["gateway"];

    /// <summary>The job table's connection string, as serve printed it.</summary>
    public string JobTableConnectionString { get; private set; } = "";

    /// <summary>The folder with each process's log.</summary>
    public string Logs => Path.Combine(Root, ".gedge", "cluster", "logs");

    /// <summary>The shared storage folder.</summary>
    public string Storage => Path.Combine(Root, ".gedge", "cluster", "storage");

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>A client that carries the cluster's sender token (serve's <c>sender-token</c> file), as its broker and sweeper do.</summary>
    public HttpClient Events { get; private set; } = null!;

    /// <summary>The API key serve made for the user <c>local</c> (read from the dashboard line it printed).</summary>
    public string ApiKey { get; private set; } = "";

    /// <summary>A client of the gateway's jobs API that sends <see cref="ApiKey"/>, so its jobs are <c>local</c>'s.</summary>
    public HttpClient Api { get; private set; } = null!;

    /// <summary>A connection to the cluster's job table (the real redis-server, or serve's embedded Garnet where there is none).</summary>
    public IConnectionMultiplexer Redis { get; private set; } = null!;

    /// <summary>The cluster's job table, for setting up and checking jobs directly.</summary>
    public JobTable.JobTable Jobs { get; private set; } = null!;

    protected virtual IReadOnlyList<string> ServeArguments => [];

    /// <summary>Settings for serve and, through it, every process it starts (<c>Stages__Lease</c>, <c>Sweeper__Interval</c>).</summary>
    protected virtual IReadOnlyDictionary<string, string> ServeEnvironment => new Dictionary<string, string>();

    public virtual async Task InitializeAsync()
    {
        foreach (var tool in new[] { "redis-server", "ffmpeg", "ffprobe" })
        {
            if (FindOnPath(tool) is null)
            {
                throw new InvalidOperationException(
                    $"{tool} is not on the PATH. The cluster tests run the real job table server and media tools: install them " +
                    "(Debian: apt-get install redis-server ffmpeg); a missing tool fails these tests, it never skips them.");
            }
        }

        await StartServeAsync();
    }

    /// <summary>
    /// Starts serve again in the same folder once it has stopped (<see cref="StopServeAsync"/>), as an operator restarts
    /// it: the same job table data and storage, new ports; <see cref="Jobs"/>, <see cref="Redis"/> and <see cref="Api"/>
    /// connect to the new processes. What serve printed before is dropped.
    /// </summary>
    public async Task RestartServeAsync()
    {
        if (_serve is not { HasExited: true })
        {
            throw new InvalidOperationException("serve is still running; stop it first.");
        }

        _serve.Dispose();
        _serve = null;
        Api.Dispose();
        await Redis.DisposeAsync();
        lock (_output)
        {
            _output.Clear();
        }

        _ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await StartServeAsync();
    }

    private async Task StartServeAsync()
    {
        var start = GedgeStart(["serve", "--port", "0", .. ServeArguments], Root);
        foreach (var (variable, value) in ServeEnvironment)
        {
            start.Environment[variable] = value;
        }

        _serve = StartServe(start);
        _serve.OutputDataReceived += (_, line) => OnOutput(line.Data);
        _serve.ErrorDataReceived += (_, line) => OnOutput(line.Data);
        _serve.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException($"gedge serve exited with code {_serve.ExitCode} before it was ready:{Environment.NewLine}{Output()}"));
        if (_serve.HasExited)
        {
            _ready.TrySetException(new InvalidOperationException($"gedge serve exited at once with code {_serve.ExitCode}."));
        }
        _serve.BeginOutputReadLine();
        _serve.BeginErrorReadLine();
        try
        {
            await _ready.Task.WaitAsync(s_startTimeout);
        }
        catch (TimeoutException)
        {
            throw new InvalidOperationException($"gedge serve was not ready within {s_startTimeout}:{Environment.NewLine}{Output()}");
        }

        var output = Output();
        Services = ServiceLine().Matches(output).ToDictionary(m => m.Groups["name"].Value, m => new Uri(m.Groups["url"].Value));
        // A scaled stage's further processes (postprocess-2, ...) are listed beside the Service's own.
        Assert.Equal(["broker", "gateway", "infer", "postprocess", "preprocess"], Services.Keys.Where(name => !char.IsAsciiDigit(name[^1])).Order(StringComparer.Ordinal));
        var dashboard = DashboardLine().Match(output);
        Assert.True(dashboard.Success, $"serve printed no dashboard line with a key:{Environment.NewLine}{output}");
        Assert.Equal(Gateway, new Uri(dashboard.Groups["url"].Value));
        ApiKey = dashboard.Groups["key"].Value;
        var keyFile = Path.Combine(Root, ".gedge", "cluster", "api-key");
        Assert.Equal(ApiKey, File.ReadAllText(keyFile).Trim());
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        }

        var senderToken = Path.Combine(Root, ".gedge", "cluster", "sender-token");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(senderToken));
        }

        Events?.Dispose();
        Events = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        Events.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(senderToken).Trim());
        Api = new HttpClient { BaseAddress = Gateway, Timeout = TimeSpan.FromSeconds(30) };
        Api.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ApiKey);
        var jobTable = JobTableLine().Match(output);
        Assert.True(jobTable.Success, $"serve named no job table:{Environment.NewLine}{output}");
        JobTableConnectionString = jobTable.Groups["endpoint"].Value;
        Redis = await ConnectionMultiplexer.ConnectAsync(JobTableConnectionString + ",allowAdmin=true");
        Jobs = new JobTable.JobTable(Redis, Options.Create(new JobTableOptions()), TimeProvider.System, new GEdge.Metrics.GEdgeMetrics(), NullLogger<JobTable.JobTable>.Instance);
    }

    public virtual async Task DisposeAsync()
    {
        Http.Dispose();
        Events?.Dispose();
        Api?.Dispose();
        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }

        if (_serve is not null)
        {
            await StopServeAsync();
            _serve.Dispose();
        }

        Directory.Delete(Root, recursive: true);
    }

    /// <summary>
    /// Sends serve <paramref name="signal"/> (SIGTERM, as a container stop does), or sends it to serve's whole process
    /// group (SIGINT there is a terminal's Ctrl+C: serve runs in a session of its own, as in a terminal), and waits for it
    /// to stop its processes and exit (killed after 40 s); its folder and logs stay until disposal. Returns serve's exit code.
    /// </summary>
    public async Task<int> StopServeAsync(string signal = "TERM", bool processGroup = false)
    {
        var serve = _serve ?? throw new InvalidOperationException("serve was not started.");
        if (!serve.HasExited)
        {
            var pid = serve.Id.ToString(CultureInfo.InvariantCulture);
            using var kill = Process.Start("kill", processGroup ? [$"-{signal}", "--", "-" + pid] : [$"-{signal}", pid]);
            await kill!.WaitForExitAsync();
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(40));
            try
            {
                await serve.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                serve.Kill(entireProcessTree: true);
                await serve.WaitForExitAsync();
            }
        }

        return serve.ExitCode;
    }

    /// <summary>Waits (at most <paramref name="timeout"/>) for serve to exit by itself; returns its exit code.</summary>
    public async Task<int> WaitForServeExitAsync(TimeSpan timeout)
    {
        var serve = _serve ?? throw new InvalidOperationException("serve was not started.");
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await serve.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"serve did not exit within {timeout}:{Environment.NewLine}{Output()}");
        }

        return serve.ExitCode;
    }

    /// <summary>What serve printed so far.</summary>
    public string Output()
    {
        lock (_output)
        {
            return string.Join(Environment.NewLine, _output);
        }
    }

    /// <summary>
    /// Polls the jobs API with <see cref="Api"/> (as gedge submit does) until <c>local</c>'s job is in Exit; at most
    /// <paramref name="timeout"/>.
    /// </summary>
    public async Task<JobView> WaitForExitAsync(long jobId, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            var job = await Api.GetFromJsonAsync($"api/jobs/{jobId}", GatewayJsonContext.Default.JobView, deadline.Token);
            if (job!.Job[JobFields.Status] == nameof(JobStatus.Exit))
            {
                return job;
            }

            await Task.Delay(delay, deadline.Token);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
        }
    }

    /// <summary>
    /// The lines of a process's log that contain <paramref name="text"/>, once there are <paramref name="count"/> of them:
    /// loggers write in the background, so a line can land just after the response that follows it.
    /// </summary>
    public async Task<IReadOnlyList<string>> WaitForLogLinesAsync(string process, string text, int count, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        var path = Path.Combine(Logs, process + ".log");
        while (true)
        {
            var lines = ReadShared(path).Where(line => line.Contains(text, StringComparison.Ordinal)).ToList();
            if (lines.Count >= count || deadline.IsCancellationRequested)
            {
                return lines;
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The last <paramref name="lines"/> lines of <paramref name="process"/>'s log, for a failing assertion to show.</summary>
    public string LogTail(string process, int lines = 60) =>
        string.Join(Environment.NewLine, ReadShared(Path.Combine(Logs, process + ".log")).TakeLast(lines));

    /// <summary>Whether a line of a process's log that <paramref name="matches"/> appears within <paramref name="timeout"/>.</summary>
    private async Task<bool> LogHasLineAsync(string process, Func<string, bool> matches, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(matches);
        using var deadline = new CancellationTokenSource(timeout);
        var path = Path.Combine(Logs, process + ".log");
        while (!ReadShared(path).Any(matches))
        {
            if (deadline.IsCancellationRequested)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    /// <summary>
    /// Asserts that <paramref name="process"/> logs, within a minute, that a segment of job <paramref name="id"/> left
    /// <paramref name="working"/> while it worked on it (cancelled, or taken back), the line a stage writes as it drops an attempt.
    /// </summary>
    public async Task AssertSegmentDroppedAsync(string process, long id, JobStatus working) =>
        Assert.True(
            await LogHasLineAsync(
                process,
                line => line.Contains($" {id} segment ", StringComparison.Ordinal) && line.Contains($"left {working} while this stage worked on it", StringComparison.Ordinal),
                TimeSpan.FromMinutes(1)),
            $"{process} did not say job {id}'s segment left it while it worked");

    /// <summary>Runs <c>dotnet gedge.dll ARGS</c> in <paramref name="workingDirectory"/> to its end.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunGedgeAsync(
        IReadOnlyList<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var process = StartGedge(arguments, workingDirectory, environment);
        return await FinishGedgeAsync(process);
    }

    /// <summary>Starts <c>dotnet gedge.dll ARGS</c> in <paramref name="workingDirectory"/>; <see cref="FinishGedgeAsync"/> waits for it.</summary>
    public static Process StartGedge(IReadOnlyList<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = GedgeStart(arguments, workingDirectory);
        foreach (var (variable, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[variable] = value;
        }

        return Process.Start(start)!;
    }

    /// <summary>Waits (three minutes at most) for a process <see cref="StartGedge"/> started, and returns what it said.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> FinishGedgeAsync(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    private static ProcessStartInfo GedgeStart(IReadOnlyList<string> arguments, string workingDirectory)
    {
        var start = new ProcessStartInfo(FindOnPath("env") ?? "/usr/bin/env")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // Through env(1), which execs in place (the pid stays gedge's), with SIGINT's default action restored: a process
        // started from a background job of a non-interactive shell inherits SIGINT ignored (POSIX), and the runtime keeps
        // it so, so a test's Ctrl+C would not reach gedge when the tests themselves were started that way.
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "gedge.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The cluster under test is the default one: local folder storage, its own job table.
        start.Environment.Remove("Storage__S3__Endpoint");
        start.Environment.Remove("JobTable__ConnectionString");
        foreach (var variable in start.Environment.Keys.Where(k => k.StartsWith("Gateway__ApiKeys__", StringComparison.OrdinalIgnoreCase) || k == "GEDGE_API_KEY").ToList())
        {
            start.Environment.Remove(variable);
        }
        return start;
    }

    // In a session of its own (setsid(1) execs in place, so the pid is serve's), as a shell runs a command in a process
    // group of its own: a signal to the group is what a terminal's Ctrl+C sends, and it reaches no test process.
    private static Process StartServe(ProcessStartInfo start)
    {
        start.ArgumentList.Insert(0, start.FileName);
        start.FileName = "setsid";
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.Start();
        return process;
    }

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }

        if (line.StartsWith("stop with Ctrl+C", StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
    }

    private static List<string> ReadShared(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    protected static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);

    [GeneratedRegex(@"^  (?<name>(?:gateway|broker|preprocess|infer|postprocess)(?:-\d+)?)\s+(?<url>http://\S+)$", RegexOptions.Multiline)]
    private static partial Regex ServiceLine();

    [GeneratedRegex(@"^  dashboard\s+(?<url>http://\S+)#key=(?<key>gedge_[A-Za-z0-9_-]+)$", RegexOptions.Multiline)]
    private static partial Regex DashboardLine();

    [GeneratedRegex(@"^  job table\s+(?<endpoint>127\.0\.0\.1:\d+) \((?:redis-server|embedded Garnet)", RegexOptions.Multiline)]
    private static partial Regex JobTableLine();
}

/// <summary>A cluster whose broker delivers every event twice.</summary>
public sealed class DuplicatingClusterFixture : ClusterFixture
{
    protected override IReadOnlyList<string> ServeArguments => ["--duplicate-deliveries"];
}

/// <summary>The cluster test classes run one after the other: two clusters at once would only compete for the cores.</summary>
[CollectionDefinition(Name)]
public sealed class OneClusterAtATime
{
    public const string Name = "local cluster";
}
