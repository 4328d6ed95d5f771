using System.ComponentModel;
using System.Diagnostics;
using FFMpegCore;
using GEdge.Media;

namespace GEdge.Rendering;

/// <summary>
/// One running ffmpeg process with its stdin/stdout as raw byte streams and the last lines of its stderr kept.
/// </summary>
/// <remarks>
/// The annotated video needs two ffmpeg processes whose pipes one loop reads and writes at the same time, killed together
/// on cancellation. FFMpegCore hands each pipe to a callback owned by its own processor (bridging two of them needs
/// hand-rolled rendezvous), takes a raw input's frame rate as a double (30000/1001 would not stay exact), cancels by
/// sending <c>q</c> and waiting, which lets the encoder finish a truncated file, and keeps all of stderr in memory. So the
/// binary FFMpegCore is configured with is started here directly, on anonymous stdin/stdout pipes whose kernel buffers
/// this class can size (<see cref="LinuxPipe"/>).
/// </remarks>
internal sealed class FfmpegChild : IDisposable
{
    // Enough for ffmpeg's error and the lines of context before it, small enough to carry in an exception message.
    private const int TailLines = 12;

    private readonly Process _process;
    private readonly Queue<string> _tail = new(TailLines);
    private readonly Task _stderrReader;
    private int _killed;

    private FfmpegChild(string role, Process process)
    {
        Role = role;
        _process = process;
        _stderrReader = ReadStandardErrorAsync();
    }

    /// <summary>What this process does in the stage (<c>decoder</c>, <c>encoder</c>), for messages.</summary>
    public string Role { get; }

    /// <summary>The process id, for logs.</summary>
    public int Id => _process.Id;

    /// <summary>The process's stdout.</summary>
    public Stream Output => _process.StandardOutput.BaseStream;

    /// <summary>The process's stdin.</summary>
    public Stream Input => _process.StandardInput.BaseStream;

    /// <summary>Whether <see cref="Kill"/> stopped the process (so its exit code says nothing about the video).</summary>
    public bool WasKilled => Volatile.Read(ref _killed) == 1;

    /// <summary>Starts ffmpeg with the given arguments.</summary>
    /// <exception cref="VideoRenderingException">The ffmpeg binary could not be started.</exception>
    public static FfmpegChild Start(string role, string videoPath, IReadOnlyList<string> arguments, bool redirectInput, bool redirectOutput)
    {
        var binary = GlobalFFOptions.GetFFMpegBinaryPath();
        var startInfo = new ProcessStartInfo(binary)
        {
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = redirectOutput,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        try
        {
            var process = Process.Start(startInfo)
                ?? throw new VideoRenderingException(videoPath, $"The ffmpeg {role} ({binary}) did not start.");
            if (redirectOutput)
            {
                LinuxPipe.TryEnlarge(process.StandardOutput.BaseStream, LinuxPipe.MaximumUnprivilegedBytes);
            }

            if (redirectInput)
            {
                LinuxPipe.TryEnlarge(process.StandardInput.BaseStream, LinuxPipe.MaximumUnprivilegedBytes);
            }

            return new FfmpegChild(role, process);
        }
        catch (Win32Exception e)
        {
            throw new VideoRenderingException(videoPath,
                $"The ffmpeg {role} could not be started ({binary}): install ffmpeg (apt-get install ffmpeg) or point FFMpegCore's BinaryFolder at it.", e);
        }
    }

    /// <summary>The last lines the process wrote to stderr, once it has exited.</summary>
    public string StandardErrorTail
    {
        get
        {
            lock (_tail)
            {
                return string.Join(Environment.NewLine, _tail);
            }
        }
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

    /// <summary>The exception for this process having exited with <paramref name="exitCode"/>.</summary>
    public VideoRenderingException Failure(string videoPath, int exitCode, Exception? cause = null) =>
        new(videoPath, Role, exitCode, StandardErrorTail, cause);

    /// <inheritdoc />
    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private async Task ReadStandardErrorAsync()
    {
        // Read continuously: a process whose stderr pipe fills up blocks, and would look like a hang.
        try
        {
            var reader = _process.StandardError;
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }

                lock (_tail)
                {
                    if (_tail.Count == TailLines)
                    {
                        _tail.Dequeue();
                    }

                    _tail.Enqueue(line);
                }
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or IOException)
        {
            // Disposed while a failure was being handled: the lines read so far are all there will be.
        }
    }
}
