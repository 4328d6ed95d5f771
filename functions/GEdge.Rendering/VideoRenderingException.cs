namespace GEdge.Rendering;

/// <summary>The annotated video could not be made: a probe failed or an ffmpeg process exited with an error.</summary>
public sealed class VideoRenderingException : Exception
{
    /// <summary>Creates the exception for a failure that is not an ffmpeg exit (a probe, a missing binary).</summary>
    public VideoRenderingException(string path, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Path = path;
    }

    /// <summary>Creates the exception for an ffmpeg process that failed, with the end of what it wrote to stderr.</summary>
    public VideoRenderingException(string path, string process, int exitCode, string standardErrorTail, Exception? innerException = null)
        : base(Describe(path, process, exitCode, standardErrorTail), innerException)
    {
        Path = path;
        Process = process;
        ExitCode = exitCode;
        StandardErrorTail = standardErrorTail;
    }

    /// <summary>The original video being annotated.</summary>
    public string Path { get; }

    /// <summary>Which ffmpeg process failed (<c>decoder</c>, <c>encoder</c>, <c>transcoder</c>); null when none did.</summary>
    public string? Process { get; }

    /// <summary>The failed process's exit code.</summary>
    public int? ExitCode { get; }

    /// <summary>The last lines ffmpeg wrote to stderr (it runs with <c>-loglevel error</c>, so these are its errors).</summary>
    public string? StandardErrorTail { get; }

    private static string Describe(string path, string process, int exitCode, string tail) =>
        $"The ffmpeg {process} exited with code {exitCode} while annotating {path}: "
        + (tail.Length > 0 ? tail : "it wrote no error message.");
}
