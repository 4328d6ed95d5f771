using System.ComponentModel;
using System.Diagnostics;
using FFMpegCore;

namespace GEdge.Media;

/// <summary>Which of an ffmpeg process's standard streams the caller reads or writes as raw bytes; stderr is always read.</summary>
[Flags]
public enum FfmpegPipes
{
    /// <summary>Neither: ffmpeg reads and writes files (or lavfi sources) named on its command line.</summary>
    None = 0,

    /// <summary>The caller writes to <see cref="FfmpegProcess.Input"/>.</summary>
    Input = 1,

    /// <summary>The caller reads <see cref="FfmpegProcess.Output"/>.</summary>
    Output = 2,
}

/// <summary>
/// One running ffmpeg process with its stdin/stdout as raw byte streams and the last lines of its stderr kept: the one
/// place G-Edge starts ffmpeg (ffprobe runs through FFMpegCore in <see cref="VideoProbe"/>).
/// </summary>
/// <remarks>
/// The annotated video needs two ffmpeg processes whose pipes one loop reads and writes at the same time, killed together
/// on cancellation; the letterbox reader needs stdout as a stream of raw frames while stderr's showinfo lines arrive in
/// step. FFMpegCore hands each pipe to a callback owned by its own processor (bridging two of them needs hand-rolled
/// rendezvous), takes a raw input's frame rate as a double (30000/1001 would not stay exact), cancels by sending <c>q</c>
/// and waiting, which lets an encoder finish a truncated file, and keeps all of stderr in memory. So the binary FFMpegCore
/// is configured with is started here directly, on anonymous pipes whose kernel buffers this class sizes
/// (<see cref="LinuxPipe"/>).
/// </remarks>
public sealed class FfmpegProcess : IDisposable
{
    /// <summary>
    /// The activities of G-Edge's media tools: <c>ffmpeg ROLE</c>, one per process from its start until it has exited (its
    /// stderr closed), and <c>ffprobe</c> (<see cref="VideoProbe"/>), for whoever listens (start-up timings, a tracer).
    /// </summary>
    public static readonly ActivitySource Activities = new("GEdge.Media");

    /// <summary>Lines of stderr kept by default: ffmpeg's error and the lines of context before it, small enough for a message.</summary>
    public const int DefaultTailLines = 12;

    private readonly Process _process;
    private readonly Func<string, string?> _standardErrorLine;
    private readonly int _tailLines;
    private readonly Queue<string> _tail;
    private readonly Task _stderrReader;
    private readonly Activity? _activity;
    private int _killed;

    private FfmpegProcess(string role, string path, Process process, Func<string, string?> standardErrorLine, int tailLines, Activity? activity)
    {
        Role = role;
        Path = path;
        _process = process;
        _activity = activity;
        _standardErrorLine = standardErrorLine;
        _tailLines = tailLines;
        _tail = new Queue<string>(tailLines);
        _stderrReader = ReadStandardErrorAsync();
    }

    /// <summary>What this process does (<c>decoder</c>, <c>encoder</c>), for messages.</summary>
    public string Role { get; }

    /// <summary>The file the process works on, for messages and exceptions.</summary>
    public string Path { get; }

    /// <summary>The process id, for logs.</summary>
    public int Id => _process.Id;

    /// <summary>The process's stdout; only with <see cref="FfmpegPipes.Output"/>.</summary>
    public Stream Output => _process.StandardOutput.BaseStream;

    /// <summary>The process's stdin; only with <see cref="FfmpegPipes.Input"/>.</summary>
    public Stream Input => _process.StandardInput.BaseStream;

    /// <summary>Whether <see cref="Kill"/> stopped the process (so its exit code says nothing about the video).</summary>
    public bool WasKilled => Volatile.Read(ref _killed) == 1;

    /// <summary>Completes when stderr has been read to its end (the process closed it, or it was disposed).</summary>
    public Task StandardErrorCompletion => _stderrReader;

    /// <summary>The lines of stderr kept (the last ones, as the line filter returned them), oldest first.</summary>
    public IReadOnlyList<string> StandardErrorLines
    {
        get
        {
            lock (_tail)
            {
                return [.. _tail];
            }
        }
    }

    /// <summary>The kept lines of stderr, one per line.</summary>
    public string StandardErrorTail => string.Join(Environment.NewLine, StandardErrorLines);

    /// <summary>Starts the ffmpeg binary FFMpegCore is configured with (its <c>BinaryFolder</c>, else PATH).</summary>
    /// <param name="role">What the process does, for messages (<c>decoder</c>, <c>encoder</c>).</param>
    /// <param name="path">The file it works on, for messages and exceptions.</param>
    /// <param name="arguments">ffmpeg's arguments, without the binary.</param>
    /// <param name="pipes">The standard streams the caller uses; their kernel buffers are enlarged.</param>
    /// <param name="standardErrorLine">
    /// Sees every non-empty stderr line as it arrives (on a background task) and returns the text to keep in the tail, or
    /// null to keep nothing; by default every line is kept.
    /// </param>
    /// <param name="tailLines">How many of the last kept lines to hold.</param>
    /// <exception cref="MediaException">The binary could not be started (<see cref="MediaErrorKind.ToolMissing"/>).</exception>
    public static FfmpegProcess Start(
        string role,
        string path,
        IEnumerable<string> arguments,
        FfmpegPipes pipes = FfmpegPipes.None,
        Func<string, string?>? standardErrorLine = null,
        int tailLines = DefaultTailLines)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(role);
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tailLines);
        var binary = GlobalFFOptions.GetFFMpegBinaryPath();
        var startInfo = new ProcessStartInfo(binary)
        {
            RedirectStandardInput = pipes.HasFlag(FfmpegPipes.Input),
            RedirectStandardOutput = pipes.HasFlag(FfmpegPipes.Output),
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // The process outlives this call and runs beside its caller's other work, so its activity is not made the caller's
        // current one (which would parent whatever the caller does next).
        var caller = Activity.Current;
        var activity = Activities.StartActivity($"ffmpeg {role}")?.SetTag("file", path);
        Activity.Current = caller;
        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw ToolMissing(path, $"The ffmpeg {role}", binary, null);
        }
        catch (Win32Exception e)
        {
            activity?.Dispose();
            throw ToolMissing(path, $"The ffmpeg {role}", binary, e);
        }

        if (startInfo.RedirectStandardOutput)
        {
            LinuxPipe.TryEnlarge(process.StandardOutput.BaseStream, LinuxPipe.MaximumUnprivilegedBytes);
        }

        if (startInfo.RedirectStandardInput)
        {
            LinuxPipe.TryEnlarge(process.StandardInput.BaseStream, LinuxPipe.MaximumUnprivilegedBytes);
        }

        return new FfmpegProcess(role, path, process, standardErrorLine ?? (line => line), tailLines, activity);
    }

    /// <summary>Closes stdin, which tells an encoder reading from it that the last frame has come.</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits for the process to exit and for its stderr to be read to the end; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        await _stderrReader.WaitAsync(cancellationToken).ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>Kills the process (and anything it started) if it is still running.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                Volatile.Write(ref _killed, 1);
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill: nothing left to stop.
        }
    }

    /// <summary>The exception for this process having exited with <paramref name="exitCode"/> while <paramref name="activity"/> its file.</summary>
    /// <param name="exitCode">The exit code.</param>
    /// <param name="activity">What was being done to the file, as a verb (<c>annotating</c>, <c>checking</c>).</param>
    /// <param name="cause">What the caller saw first (a broken pipe), if anything.</param>
    public MediaException Failure(int exitCode, string activity, Exception? cause = null) =>
        new(Path, Role, activity, exitCode, StandardErrorTail, cause);

    /// <inheritdoc />
    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    /// <summary>Strips ffmpeg's "[h264 @ 0x55...] " context prefix so a reason reads as a sentence.</summary>
    public static string WithoutContext(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var text = line.AsSpan().Trim();
        while (text.Length > 0 && text[0] == '[')
        {
            var close = text.IndexOf(']');
            if (close < 0)
            {
                break;
            }

            text = text[(close + 1)..].TrimStart();
        }

        return text.ToString();
    }

    /// <summary>The exception for a tool (<paramref name="what"/>: <c>ffprobe</c>, <c>The ffmpeg decoder</c>) that could not be started.</summary>
    internal static MediaException ToolMissing(string path, string what, string binary, Exception? cause) =>
        new(path, MediaErrorKind.ToolMissing,
            $"{what} could not be started ({binary}): install ffmpeg (apt-get install ffmpeg) or point FFMpegCore's BinaryFolder at it.", cause);

    private async Task ReadStandardErrorAsync()
    {
        // Read continuously: a process whose stderr pipe fills up blocks, and would look like a hang.
        try
        {
            var reader = _process.StandardError;
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0 || _standardErrorLine(line) is not { } kept)
                {
                    continue;
                }

                lock (_tail)
                {
                    if (_tail.Count == _tailLines)
                    {
                        _tail.Dequeue();
                    }

                    _tail.Enqueue(kept);
                }
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or IOException)
        {
            // Disposed while a failure was being handled: the lines read so far are all there will be.
        }
        finally
        {
            // stderr closes when the process exits (or is disposed): the end of its activity.
            _activity?.Dispose();
        }
    }
}
