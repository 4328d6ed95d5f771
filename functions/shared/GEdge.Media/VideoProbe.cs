using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using FFMpegCore;
using FFMpegCore.Exceptions;
using Instances.Exceptions;
using Microsoft.Extensions.Caching.Memory;

namespace GEdge.Media;

/// <summary>
/// Probes uploads with ffprobe (through FFMpegCore) and proves they decode: the first frame and one near the end are decoded,
/// so an empty, text, truncated or undecodable file is rejected here with a reason, not halfway through a job.
/// </summary>
public static class VideoProbe
{
    // How long before the video's end to decode as the "it really is all there" check; large enough to land on a keyframe's GOP.
    private static readonly TimeSpan EndCheckMargin = TimeSpan.FromSeconds(0.5);

    // What ffprobe said of each file lately, while the file is unchanged (the same path, size and modification time):
    // where stages share a process they probe the same files (the cut and the join the upload, Preprocess and
    // Postprocess a segment), and each ffprobe is a process start (about 50 ms here). Entries are a few kilobytes; the
    // limit counts them.
    private static readonly MemoryCache s_analyses = new(new MemoryCacheOptions { SizeLimit = 64 });
    private static readonly MemoryCacheEntryOptions s_analysisEntry = new() { Size = 1, SlidingExpiration = TimeSpan.FromMinutes(10) };

    private readonly record struct ProbedFile(string Path, long Length, DateTime LastWriteTimeUtc);

    /// <summary>Probes a video or still image, and checks that its first and last frames decode.</summary>
    /// <exception cref="MediaException">The file is missing, empty, not media, has no picture, or does not decode.</exception>
    public static async Task<MediaInfo> ProbeAsync(string path, CancellationToken cancellationToken = default)
    {
        var info = await AnalyseAsync(path, cancellationToken).ConfigureAwait(false);
        await VerifyDecodesAsync(info, cancellationToken).ConfigureAwait(false);
        return info;
    }

    /// <summary>
    /// What ffprobe says of a file, without the decode check: for a caller that decodes the file anyway and runs
    /// <see cref="VerifyDecodesAsync"/> alongside, so the check costs no time of its own.
    /// </summary>
    /// <exception cref="MediaException">The file is missing, empty, not media, or has no picture.</exception>
    public static async Task<MediaInfo> AnalyseAsync(string path, CancellationToken cancellationToken = default) =>
        Describe(path, await FfprobeAsync(path, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// All that ffprobe reports of a file, as FFMpegCore parses it, its failures told as for <see cref="AnalyseAsync"/>:
    /// for a caller that needs more of the streams than <see cref="MediaInfo"/> carries (the annotated copy's colour tags
    /// and audio codecs).
    /// </summary>
    /// <exception cref="MediaException">The file is missing, empty or not media, or ffprobe is missing.</exception>
    public static async Task<IMediaAnalysis> FfprobeAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            throw new MediaException(path, MediaErrorKind.FileMissing, $"{path} does not exist.");
        }

        if (file.Length == 0)
        {
            throw new MediaException(path, MediaErrorKind.Empty, $"{file.Name} is empty (0 bytes): the upload has no content.");
        }

        var probed = new ProbedFile(file.FullName, file.Length, file.LastWriteTimeUtc);
        if (s_analyses.TryGetValue(probed, out IMediaAnalysis? known))
        {
            return known!;
        }

        try
        {
            using var probing = FfmpegProcess.Activities.StartActivity("ffprobe")?.SetTag("file", file.FullName);
            var analysis = await FFProbe.AnalyseAsync(path, cancellationToken: cancellationToken).ConfigureAwait(false);
            return s_analyses.Set(probed, analysis, s_analysisEntry);
        }
        catch (FFProbeProcessException e)
        {
            throw ProbeFailure(file, e.StandardError, e);
        }
        catch (FFProbeException e) when (e.InnerException is InstanceFileNotFoundException)
        {
            throw FfmpegProcess.ToolMissing(path, "ffprobe", GlobalFFOptions.GetFFProbeBinaryPath(), e);
        }
        catch (Win32Exception e)
        {
            throw FfmpegProcess.ToolMissing(path, "ffprobe", GlobalFFOptions.GetFFProbeBinaryPath(), e);
        }
        catch (FFMpegException e)
        {
            throw new MediaException(path, MediaErrorKind.NotMedia, $"{file.Name} is not a video or image ffprobe can read: {e.Message}", e);
        }
    }

    /// <summary>Probes a file that must be a video: a still image is rejected.</summary>
    /// <exception cref="MediaException">As <see cref="ProbeAsync"/>, and for a still image.</exception>
    public static async Task<MediaInfo> ProbeVideoAsync(string path, CancellationToken cancellationToken = default) =>
        RequireVideo(await ProbeAsync(path, cancellationToken).ConfigureAwait(false));

    /// <summary>Rejects a still image where a video is required.</summary>
    /// <exception cref="MediaException">The file is a still image.</exception>
    public static MediaInfo RequireVideo(MediaInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return info.IsStillImage
            ? throw new MediaException(info.Path, MediaErrorKind.StillImage,
                $"{Path.GetFileName(info.Path)} is a still image ({info.VideoCodec}, {info.Width}x{info.Height}), not a video: upload a video file.")
            : info;
    }

    private static MediaInfo Describe(string path, IMediaAnalysis analysis)
    {
        var name = Path.GetFileName(path);
        var video = analysis.PrimaryVideoStream
            ?? throw new MediaException(path, MediaErrorKind.NoVideoStream,
                analysis.PrimaryAudioStream is null
                    ? $"{name} has no video stream."
                    : $"{name} has only audio ({analysis.PrimaryAudioStream.CodecName}), no video stream.");
        if (string.IsNullOrEmpty(video.CodecName) || video.CodecName == "none" || video.Width is not > 0 || video.Height is not > 0)
        {
            throw new MediaException(path, MediaErrorKind.UnsupportedCodec,
                $"{name} has a video stream in a codec this ffmpeg does not know ({video.CodecTagString}).");
        }

        FFProbeStream? raw = null;
        foreach (var stream in analysis.Raw.Streams)
        {
            if (stream.Index == video.Index)
            {
                raw = stream;
                break;
            }
        }

        var frameRate = FrameRate.TryParse(raw?.AvgFrameRate) is { IsKnown: true } average
            ? average
            : FrameRate.TryParse(raw?.FrameRate) ?? default;
        long? frameCount = null;
        if (raw?.ExtensionData is { } extra && extra.TryGetValue("nb_frames", out var frames) && TryReadLong(frames, out var count) && count > 0)
        {
            frameCount = count;
        }

        var format = analysis.Format.FormatName ?? string.Empty;

        // image2 is ffmpeg's demuxer for picture files by extension; *_pipe demuxers recognise pictures by content.
        var isStillImage = format == "image2" || format.EndsWith("_pipe", StringComparison.Ordinal);
        var quarterTurn = Math.Abs(video.Rotation) % 180 == 90;
        return new MediaInfo(
            path,
            format,
            quarterTurn ? video.Height.Value : video.Width.Value,
            quarterTurn ? video.Width.Value : video.Height.Value,
            frameRate,
            isStillImage ? 1 : frameCount,
            video.Duration > TimeSpan.Zero ? video.Duration : analysis.Format.Duration,
            analysis.PrimaryAudioStream is not null,
            video.CodecName,
            analysis.PrimaryAudioStream?.CodecName,
            video.Rotation,
            isStillImage)
        {
            VideoStart = video.StartTime > TimeSpan.Zero ? video.StartTime : TimeSpan.Zero,
            FormatStart = analysis.Format.StartTime > TimeSpan.Zero ? analysis.Format.StartTime : TimeSpan.Zero,
            PlaybackRate = FrameRate.ForPlayback(FrameRate.TryParse(raw?.FrameRate), FrameRate.TryParse(raw?.AvgFrameRate)) ?? default,
        };
    }

    private static bool TryReadLong(JsonElement element, out long value)
    {
        value = 0;
        return element.ValueKind switch
        {
            JsonValueKind.Number => element.TryGetInt64(out value),
            JsonValueKind.String => long.TryParse(element.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out value),
            _ => false,
        };
    }

    private static MediaException ProbeFailure(FileInfo file, IReadOnlyList<string> standardError, Exception cause)
    {
        var path = file.FullName;
        var detail = LastMeaningfulLine(standardError);
        if (LooksLikeText(file))
        {
            return new MediaException(path, MediaErrorKind.NotMedia, $"{file.Name} is a text file, not a video or image.", cause);
        }

        if (Contains(standardError, "moov atom not found"))
        {
            return new MediaException(path, MediaErrorKind.Truncated,
                $"{file.Name} is not a complete MP4/MOV: its index (moov atom) is missing, so the upload was cut off or the file is damaged.", cause);
        }

        return new MediaException(path, MediaErrorKind.NotMedia, $"{file.Name} is not a video or image ffmpeg can read ({detail}).", cause);
    }

    /// <summary>
    /// Decodes the first frame and one near the end, so that a truncated or undecodable file is told apart from a
    /// good one without decoding it all.
    /// </summary>
    /// <exception cref="MediaException">The codec is unsupported, or the start or the end does not decode.</exception>
    public static async Task VerifyDecodesAsync(MediaInfo info, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(info);
        var file = new FileInfo(info.Path);
        var path = file.FullName;
        List<string> arguments = ["-hide_banner", "-nostdin", "-v", "error", "-i", path];
        if (!info.IsStillImage)
        {
            // Half a second before the video's own end, not the file's: sound may outlast the picture, and a clip cut
            // from a longer recording starts late (-ss counts from the file's start).
            var end = info.VideoStart - info.FormatStart + info.Duration - EndCheckMargin;
            arguments.AddRange(["-ss", Math.Max(0, end.TotalSeconds).ToString("0.######", CultureInfo.InvariantCulture), "-i", path]);
        }

        // framecrc writes one line per decoded frame, so stdout tells how many of the (at most two) checks produced a picture.
        arguments.AddRange(["-map", "0:v:0", "-frames:v", "1", "-f", "framecrc", "-"]);
        if (!info.IsStillImage)
        {
            arguments.AddRange(["-map", "1:v:0", "-frames:v", "1", "-f", "framecrc", "-"]);
        }

        // -v error keeps stderr to a few lines for the two frames; all of them are kept, as any may name the cause.
        var errors = new List<string>();
        using var process = FfmpegProcess.Start("decode check", path, arguments, FfmpegPipes.Output, line =>
        {
            var text = line.Trim();
            if (text.Length > 0)
            {
                errors.Add(text);
            }

            return text;
        });
        string output;
        using (var reader = new StreamReader(process.Output))
        {
            // Disposing the process kills it when this is cancelled.
            output = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        }

        var exitCode = await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        var decoded = 0;
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!line.StartsWith('#'))
            {
                decoded++;
            }
        }

        var expected = info.IsStillImage ? 1 : 2;
        if (decoded >= expected && exitCode == 0)
        {
            return;
        }

        var detail = LastMeaningfulLine(errors);
        if (Contains(errors, "Decoder (codec") || Contains(errors, "decoder not found", StringComparison.OrdinalIgnoreCase))
        {
            throw new MediaException(path, MediaErrorKind.UnsupportedCodec,
                $"{file.Name} is coded in {info.VideoCodec}, which this ffmpeg cannot decode.");
        }

        if (decoded == 0)
        {
            throw new MediaException(path, MediaErrorKind.DecodeFailed,
                $"{file.Name} looks like {info.VideoCodec} video but not even its first frame decodes ({detail}): the file is damaged or incomplete.");
        }

        throw new MediaException(path, MediaErrorKind.Truncated,
            Contains(errors, "partial file")
                ? $"{file.Name} is truncated: it ends before the video data its index lists, so the upload was cut off."
                : $"{file.Name} starts well but its end does not decode ({detail}): the file is truncated or damaged.");
    }

    private static bool Contains(IReadOnlyList<string> lines, string text, StringComparison comparison = StringComparison.Ordinal)
    {
        foreach (var line in lines)
        {
            if (line.Contains(text, comparison))
            {
                return true;
            }
        }

        return false;
    }

    private static string LastMeaningfulLine(IReadOnlyList<string> lines)
    {
        for (var i = lines.Count - 1; i >= 0; i--)
        {
            var text = FfmpegProcess.WithoutContext(lines[i]);
            if (text.Length > 0)
            {
                return text;
            }
        }

        return "no error message";
    }

    // A user who uploads notes.txt renamed to .mp4 deserves "this is text", not a container parser's complaint.
    private static bool LooksLikeText(FileInfo file)
    {
        Span<byte> head = stackalloc byte[512];
        int read;
        using (var stream = file.OpenRead())
        {
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }

        foreach (var b in head[..read])
        {
            if (b < 0x09 || (b > 0x0D && b < 0x20) || b == 0x7F)
            {
                return false;
            }
        }

        return read > 0;
    }
}
