using System.Collections.Frozen;

namespace GEdge.Events;

/// <summary>
/// The one list of file extensions G-Edge takes for a video. An upload path uses it to decide whether an object
/// starts a job at all; whether the file really is a video is Preprocess's to find out (it probes the content).
/// </summary>
public static class VideoFileTypes
{
    /// <summary>
    /// Extensions (lower case, without the dot) of the containers ffmpeg demuxes that people upload: MP4 and its
    /// relatives, QuickTime, Matroska/WebM, AVI, Windows Media, Flash, MPEG program and transport streams, 3GPP, Ogg.
    /// </summary>
    public static FrozenSet<string> Extensions { get; } = new[]
    {
        "mp4", "m4v", "mov", "qt", "mkv", "webm", "avi", "wmv", "asf", "flv",
        "mpg", "mpeg", "m2v", "ts", "mts", "m2ts", "3gp", "3g2", "ogv",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>The extension of an object key or file name, lower case and without the dot; empty when it has none.</summary>
    public static string ExtensionOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Path.GetExtension(key.AsSpan()).TrimStart('.').ToString().ToLowerInvariant();
    }

    /// <summary>Whether <paramref name="key"/> names a file with a video extension.</summary>
    public static bool IsVideo(string key) => Extensions.Contains(ExtensionOf(key));
}
