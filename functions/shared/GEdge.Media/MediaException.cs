namespace GEdge.Media;

/// <summary>Why a file could not be used as a video or image.</summary>
public enum MediaErrorKind
{
    /// <summary>ffmpeg or ffprobe is not installed or not where it was configured.</summary>
    ToolMissing,

    /// <summary>The file does not exist.</summary>
    FileMissing,

    /// <summary>The file has no bytes.</summary>
    Empty,

    /// <summary>ffmpeg does not recognise the file as any media (text, an archive, random bytes).</summary>
    NotMedia,

    /// <summary>The file is media but has no picture (audio only, subtitles).</summary>
    NoVideoStream,

    /// <summary>A video was required but the file is a still image.</summary>
    StillImage,

    /// <summary>The video is coded in a format this ffmpeg cannot decode.</summary>
    UnsupportedCodec,

    /// <summary>The file ends before the data it declares (an interrupted upload or copy).</summary>
    Truncated,

    /// <summary>ffmpeg recognised the file but failed while decoding it.</summary>
    DecodeFailed,

    /// <summary>The video states no frame rate, so a copy of it cannot keep its timing.</summary>
    NoFrameRate,

    /// <summary>An ffmpeg process exited with an error; <see cref="MediaException.StandardErrorTail"/> says why.</summary>
    ProcessFailed,
}

/// <summary>
/// ffmpeg or ffprobe could not do its work on a file (it is not a video G-Edge can process, or a process failed);
/// <see cref="Exception.Message"/> says why in words a user understands.
/// </summary>
public sealed class MediaException : Exception
{
    /// <summary>Creates the exception for a file, a kind of failure and a user-facing reason.</summary>
    public MediaException(string path, MediaErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Path = path;
        Kind = kind;
    }

    /// <summary>Creates the exception for an ffmpeg process that failed, with the end of what it wrote to stderr.</summary>
    /// <param name="path">The file the process worked on.</param>
    /// <param name="process">Which ffmpeg process failed (<c>decoder</c>, <c>encoder</c>, <c>transcoder</c>).</param>
    /// <param name="activity">What it was doing to the file, as a verb (<c>annotating</c>).</param>
    /// <param name="exitCode">Its exit code.</param>
    /// <param name="standardErrorTail">The last lines it wrote to stderr.</param>
    /// <param name="innerException">What the caller saw first (a broken pipe), if anything.</param>
    public MediaException(string path, string process, string activity, int exitCode, string standardErrorTail, Exception? innerException = null)
        : base(Describe(path, process, activity, exitCode, standardErrorTail), innerException)
    {
        Path = path;
        Kind = MediaErrorKind.ProcessFailed;
        Process = process;
        ExitCode = exitCode;
        StandardErrorTail = standardErrorTail;
    }

    /// <summary>The file that was rejected.</summary>
    public string Path { get; }

    /// <summary>The class of failure, for callers that act on it (a job's exit reason, an HTTP status).</summary>
    public MediaErrorKind Kind { get; }

    /// <summary>Which ffmpeg process failed (<c>decoder</c>, <c>encoder</c>, <c>transcoder</c>); null when none did.</summary>
    public string? Process { get; }

    /// <summary>The failed process's exit code; null when no process failed.</summary>
    public int? ExitCode { get; }

    /// <summary>The last lines the failed process wrote to stderr (its errors, at <c>-loglevel error</c>); null when none failed.</summary>
    public string? StandardErrorTail { get; }

    private static string Describe(string path, string process, string activity, int exitCode, string tail) =>
        $"The ffmpeg {process} exited with code {exitCode} while {activity} {path}: "
        + (tail.Length > 0 ? tail : "it wrote no error message.");
}
