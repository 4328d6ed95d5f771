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
}

/// <summary>A file is not a video or image G-Edge can process; <see cref="Exception.Message"/> says why in words a user understands.</summary>
public sealed class MediaException : Exception
{
    /// <summary>Creates the exception for a file, a kind of failure and a user-facing reason.</summary>
    public MediaException(string path, MediaErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Path = path;
        Kind = kind;
    }

    /// <summary>The file that was rejected.</summary>
    public string Path { get; }

    /// <summary>The class of failure, for callers that act on it (a job's exit reason, an HTTP status).</summary>
    public MediaErrorKind Kind { get; }
}
