using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Polly;
using Polly.Retry;

namespace GEdge.Cli.Cluster;

/// <summary>A process the local cluster failed to start; the message says which, why, and what its log said last.</summary>
internal sealed class ClusterStartException(string message) : Exception(message);

/// <summary>
/// One child process of the local cluster (a function, the broker, redis-server), its standard output and error
/// appended to its own log file, killed with its process tree when disposed. <see cref="StartAgainAsync"/> starts the
/// same command again once it has exited, as a kubelet restarts a container.
/// </summary>
internal sealed class ClusterProcess : IAsyncDisposable
{
    private const int LogTailLines = 25;
    private static readonly TimeSpan s_outputDrainTimeout = TimeSpan.FromSeconds(2);
    private static readonly string? s_setsid = OperatingSystem.IsLinux()
        ? new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists)
        : null;
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Lock _logLock = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _fileName;
    private readonly IReadOnlyList<string> _arguments;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private bool _logClosed;
    private int _disposed;

    private ClusterProcess(
        string name, Process process, StreamWriter log, string logPath,
        string fileName, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        Name = name;
        _process = process;
        _log = log;
        LogPath = logPath;
        _fileName = fileName;
        _arguments = arguments;
        _environment = environment;
        StartedAt = DateTimeOffset.UtcNow;
    }

    /// <summary>When this process was started.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>The operating system's id of the process.</summary>
    public int Id => _process.Id;

    /// <summary>What the process is (<c>infer</c>, <c>redis-server</c>).</summary>
    public string Name { get; }

    /// <summary>Where its output goes.</summary>
    public string LogPath { get; }

    /// <summary>Completes when the process has exited.</summary>
    public Task Exited => _exited.Task;

    /// <summary>The exit code, once it has exited.</summary>
    public int? ExitCode => _exited.Task.IsCompleted ? _process.ExitCode : null;

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="arguments"/> and extra environment variables.</summary>
    public static ClusterProcess Start(
        string name, string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string logPath)
    {
        IReadOnlyList<string> argumentList = [.. arguments];
        // Each child in a session of its own (setsid(1), util-linux), as a pod's container is in no terminal's process
        // group: a terminal's Ctrl+C then reaches serve alone, which stops its children in order. When the SIGINT reached
        // every child at once, the broker's exit called off the stages' requests and redis-server stopped before the
        // stages could give their jobs back. setsid execs in place (a child of ours leads no process group), so the pid
        // is the program's; a child still ends with serve, through --parent-pid or serve's kill.
        if (s_setsid is not null && Path.IsPathRooted(fileName) && !File.Exists(fileName))
        {
            // What Process.Start would have said, rather than setsid's exit.
            throw new ClusterStartException($"{name} could not be started ({fileName}): no such file.");
        }

        var start = new ProcessStartInfo(s_setsid ?? fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (s_setsid is not null)
        {
            start.ArgumentList.Add(fileName);
        }

        foreach (var argument in argumentList)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (variable, value) in environment)
        {
            start.Environment[variable] = value;
        }

        var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"--- {DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss} gedge serve starts {name}: {fileName} {string.Join(' ', start.ArgumentList)}"));
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var child = new ClusterProcess(name, process, log, logPath, fileName, argumentList, environment);
        process.OutputDataReceived += (_, line) => child.Append(line.Data);
        process.ErrorDataReceived += (_, line) => child.Append(line.Data);
        process.Exited += (_, _) => _ = child.OnExitedAsync();
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            log.Dispose();
            process.Dispose();
            throw new ClusterStartException($"{name} could not be started ({fileName}): {e.Message}");
        }

        // A child that reads its standard input must not inherit the terminal's; none of ours reads it.
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>
    /// Starts the same command again, logging to the same file, once this process has exited; this one is disposed. Throws
    /// <see cref="ClusterStartException"/> if the command can no longer be started at all.
    /// </summary>
    public async Task<ClusterProcess> StartAgainAsync()
    {
        if (!_exited.Task.IsCompleted)
        {
            throw new InvalidOperationException($"{Name} is still running; only a process that exited is started again.");
        }

        await DisposeAsync().ConfigureAwait(false);
        return Start(Name, _fileName, _arguments, _environment, LogPath);
    }

    /// <summary>The last lines of the log, to show why the process failed.</summary>
    public string LogTail()
    {
        lock (_logLock)
        {
            if (!_logClosed)
            {
                _log.Flush();
            }
        }

        using var reader = new StreamReader(new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        var lines = new Queue<string>(LogTailLines);
        while (reader.ReadLine() is { } line)
        {
            if (lines.Count == LogTailLines)
            {
                lines.Dequeue();
            }

            lines.Enqueue(line);
        }

        return string.Join(Environment.NewLine, lines);
    }

    /// <summary>A failure saying that the process exited while it should be running, with the end of its log.</summary>
    public ClusterStartException ExitedUnexpectedly(string when) => new(string.Create(
        CultureInfo.InvariantCulture,
        $"{Name} exited with code {ExitCode} {when}. The end of {LogPath}:{Environment.NewLine}{LogTail()}"));

    /// <summary>
    /// Asks <paramref name="isReady"/> until it says yes, <paramref name="firstDelay"/> after the first no and twice as
    /// long after each next one, up to <paramref name="maxDelay"/> (a Polly retry on the result); the process's exit
    /// ends the wait at once, not at the next question.
    /// </summary>
    /// <returns>Whether it said yes within <paramref name="timeout"/>.</returns>
    /// <exception cref="ClusterStartException">The process exited before it was ready.</exception>
    public async Task<bool> WaitUntilReadyAsync(
        Func<CancellationToken, ValueTask<bool>> isReady, TimeSpan firstDelay, TimeSpan maxDelay, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(isReady);
        var pipeline = new ResiliencePipelineBuilder<bool>()
            .AddRetry(new RetryStrategyOptions<bool>
            {
                ShouldHandle = new PredicateBuilder<bool>().HandleResult(false),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = false,
                Delay = firstDelay,
                MaxDelay = maxDelay,
                MaxRetryAttempts = int.MaxValue,
            })
            .Build();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(timeout);
        var waiting = pipeline.ExecuteAsync(async token => !Exited.IsCompleted && await isReady(token).ConfigureAwait(false), stop.Token).AsTask();
        if (await Task.WhenAny(waiting, Exited).ConfigureAwait(false) != waiting)
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await ((Task)waiting).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw ExitedUnexpectedly("while starting");
        }

        try
        {
            return await waiting.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// Stops the process as a kubelet stops a container: SIGTERM, up to <paramref name="grace"/> for it to end by itself
    /// (a function finishes or gives back the stage in hand), then the kill of <see cref="DisposeAsync"/>.
    /// </summary>
    public async ValueTask StopAsync(TimeSpan grace)
    {
        if (!_exited.Task.IsCompleted && PosixSignals.Terminate(_process.Id))
        {
            await WaitForExitAsync(grace).ConfigureAwait(false);
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Kills the process and its children, if it still runs, and closes its log. Once: a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        // A process whose restart failed was disposed by StartAgainAsync and stays in the cluster's list; the cluster's
        // stop disposes it again, and a second WaitForExitAsync on the disposed Process threw, which ended that stop before
        // the gateway and the broker were stopped.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (!_exited.Task.IsCompleted)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited between the check and the kill.
            }
        }

        await _process.WaitForExitAsync().ConfigureAwait(false);
        _process.Dispose();
        lock (_logLock)
        {
            _logClosed = true;
            _log.Dispose();
        }
    }

    /// <summary>Waits up to <paramref name="grace"/> for the process to end by itself (redis-server after SHUTDOWN).</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan grace)
    {
        await Task.WhenAny(Exited, Task.Delay(grace)).ConfigureAwait(false);
        return Exited.IsCompleted;
    }

    /// <summary>
    /// Completes <see cref="Exited"/> once the process has exited and its last lines are in the log. The Exited event
    /// can come before the readers have handed over the last lines of output (dotnet/runtime#65377): a broker that
    /// refused its settings had exited, and serve's message quoted its log without the line saying why (seen once in
    /// CI). Process.WaitForExitAsync waits for the end of both redirected streams too (its WaitUntilOutputEOF); the wait
    /// is bounded, since a grandchild that inherited the streams could hold them open.
    /// </summary>
    private async Task OnExitedAsync()
    {
        try
        {
            using var drained = new CancellationTokenSource(s_outputDrainTimeout);
            await _process.WaitForExitAsync(drained.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            // Past the bound, or disposed meanwhile: what has reached the log is what there is.
        }
        finally
        {
            _exited.TrySetResult();
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_logLock)
        {
            // Lines still arriving after disposal belong to a process being torn down; they are dropped.
            if (!_logClosed)
            {
                _log.WriteLine(line);
            }
        }
    }
}

/// <summary>
/// Sends SIGTERM: .NET can kill a process (SIGKILL) but has no call that asks it to stop, so this calls libc's
/// <c>kill(2)</c> itself.
/// </summary>
internal static partial class PosixSignals
{
    private const int SigTerm = 15;

    /// <summary>Asks process <paramref name="pid"/> to stop; false where there are no POSIX signals or it is gone.</summary>
    public static bool Terminate(int pid) => !OperatingSystem.IsWindows() && Kill(pid, SigTerm) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
