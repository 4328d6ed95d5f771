using System.Globalization;

namespace GEdge.Media;

/// <summary>A frame rate as the exact rational ffprobe reports (30000/1001 stays exact, unlike 29.97).</summary>
public readonly record struct FrameRate(int Numerator, int Denominator)
{
    /// <summary>Frames per second as a double.</summary>
    public double PerSecond => Denominator == 0 ? 0 : (double)Numerator / Denominator;

    /// <summary>Whether the rate is a usable positive value (ffprobe reports 0/0 when it does not know).</summary>
    public bool IsKnown => Numerator > 0 && Denominator > 0;

    /// <summary>When frame <paramref name="index"/> starts at this constant rate.</summary>
    public TimeSpan TimeOf(long index) =>
        IsKnown ? TimeSpan.FromTicks((long)Math.Round((double)index * Denominator * TimeSpan.TicksPerSecond / Numerator)) : TimeSpan.Zero;

    /// <summary>Parses ffprobe's <c>N/D</c> (or a plain integer); null when the text is not a rational.</summary>
    public static FrameRate? TryParse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var whole) ? new FrameRate(whole, 1) : null;
        }

        return int.TryParse(text.AsSpan(0, slash), NumberStyles.Integer, CultureInfo.InvariantCulture, out var numerator)
            && int.TryParse(text.AsSpan(slash + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var denominator)
            ? new FrameRate(numerator, denominator)
            : null;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Numerator}/{Denominator}");

    /// <summary>
    /// The rate a copy of a stream plays at: its r_frame_rate, the exact base rate of a constant-rate stream (30000/1001
    /// stays 30000/1001), unless it disagrees with the average rate: then the stream is variable-rate or coded as fields
    /// (r_frame_rate 50/1 for 25 fps interlaced), and the average rate is the one that keeps the copy as long as the
    /// original. Null when neither is known.
    /// </summary>
    public static FrameRate? ForPlayback(FrameRate? real, FrameRate? average)
    {
        if (real is { IsKnown: true } r && (average is not { IsKnown: true } a || Math.Abs(r.PerSecond - a.PerSecond) <= r.PerSecond * 0.01))
        {
            return r;
        }

        return average is { IsKnown: true } ? average : null;
    }
}

/// <summary>What ffprobe knows about a video or image, with the picture size as ffmpeg decodes it (rotation applied).</summary>
/// <param name="Path">The probed file.</param>
/// <param name="FormatName">The container as ffprobe names it (<c>mov,mp4,m4a,3gp,3g2,mj2</c>, <c>matroska,webm</c>, <c>image2</c>).</param>
/// <param name="Width">Width of decoded frames, after the rotation ffmpeg applies by default.</param>
/// <param name="Height">Height of decoded frames, after rotation.</param>
/// <param name="FrameRate">The video stream's average frame rate.</param>
/// <param name="FrameCount">Frames the container declares (nb_frames); null where it declares none (Matroska, WebM).</param>
/// <param name="Duration">Duration of the video stream (or of the file when the stream states none).</param>
/// <param name="HasAudio">Whether the file has an audio stream.</param>
/// <param name="VideoCodec">The video codec (<c>h264</c>, <c>hevc</c>, <c>vp9</c>, <c>mjpeg</c>).</param>
/// <param name="AudioCodec">The audio codec, or null without audio.</param>
/// <param name="Rotation">Display rotation in degrees from the stream's metadata.</param>
/// <param name="IsStillImage">Whether the file is a single picture (JPEG, PNG, ...) rather than a video.</param>
public sealed record MediaInfo(
    string Path,
    string FormatName,
    int Width,
    int Height,
    FrameRate FrameRate,
    long? FrameCount,
    TimeSpan Duration,
    bool HasAudio,
    string VideoCodec,
    string? AudioCodec,
    int Rotation,
    bool IsStillImage)
{
    /// <summary>The rate a copy of the video plays at (<see cref="FrameRate.ForPlayback"/>); unknown when the file states none.</summary>
    public FrameRate PlaybackRate { get; init; }

    /// <summary>The file's first timestamp (its earliest stream's).</summary>
    public TimeSpan FormatStart { get; init; }

    /// <summary>The video stream's first timestamp (a clip cut from a longer recording need not start at zero).</summary>
    public TimeSpan VideoStart { get; init; }

    /// <summary>
    /// <see cref="FrameCount"/> when declared, else duration x frame rate rounded: an estimate, since only decoding every
    /// frame gives the exact count of a variable-rate stream.
    /// </summary>
    public long EstimatedFrameCount =>
        FrameCount ?? (IsStillImage ? 1 : FrameRate.IsKnown ? (long)Math.Round(Duration.TotalSeconds * FrameRate.PerSecond) : 0);
}
