using System.Globalization;

namespace GEdge.Media;

/// <summary>One piece of a video cut at a keyframe: its file, its place in the order, and when its first frame plays.</summary>
/// <param name="Index">Zero-based position among the pieces.</param>
/// <param name="Path">The piece's file: the video stream only, copied as it was coded.</param>
/// <param name="Start">The time of its first packet in the original (the original's own timestamps are kept).</param>
public sealed record VideoSegment(int Index, string Path, TimeSpan Start);

/// <summary>
/// Cuts a video into pieces of about a given length at keyframes, by stream copy: nothing is decoded or re-encoded, so
/// the cut costs about as much as copying the file, and every piece decodes on its own to exactly the frames it held in
/// the original, with the original's timestamps.
/// </summary>
/// <remarks>
/// ffmpeg's segment muxer does the cutting (no library does it in process). Three of its defaults would break the
/// promise of the same frames at the same times, each found by comparing every frame's timestamp of the pieces with the
/// original's (<c>ffprobe -show_entries frame=best_effort_timestamp_time</c>):
/// <list type="bullet">
/// <item><c>-copyts</c>: without it ffmpeg shifts a clip that starts late (cut from a longer recording) to start at 0.</item>
/// <item><c>-avoid_negative_ts disabled</c> on the muxer: without it a stream with B-frames, whose first decode time is
/// before zero, is shifted later by that delay (80 ms on walking.mp4).</item>
/// <item><c>-segment_times</c> from the video's own start: <c>-segment_time</c> counts from zero, so a clip starting at
/// 100 s would be cut at every keyframe until its timestamps caught up.</item>
/// </list>
/// A cut falls on the first keyframe at or after each multiple of the length, so a piece is at least as long as asked
/// (but for the last) and a video with no keyframe after its first frame stays one piece.
/// </remarks>
public static class VideoSegmenter
{
    private const string ListName = "segments.csv";

    /// <summary>Cuts the probed video into pieces of about <paramref name="length"/> in <paramref name="folder"/>.</summary>
    /// <exception cref="MediaException">ffmpeg could not read or cut the file.</exception>
    public static async Task<IReadOnlyList<VideoSegment>> CutAsync(MediaInfo video, TimeSpan length, string folder, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(video);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(length, TimeSpan.Zero);
        Directory.CreateDirectory(folder);
        var list = System.IO.Path.Combine(folder, ListName);
        // Disposing kills the process, so a cancelled cut leaves nothing running.
        using var cutter = FfmpegProcess.Start("cutter", video.Path, Arguments(video, length, folder, list));
        var exitCode = await cutter.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw cutter.Failure(exitCode, "cutting");
        }

        var segments = await ReadListAsync(video, folder, list, cancellationToken).ConfigureAwait(false);
        return segments.Count > 0
            ? segments
            : throw new MediaException(video.Path, MediaErrorKind.DecodeFailed, $"{System.IO.Path.GetFileName(video.Path)} holds no video packets to cut.");
    }

    /// <summary>The cutting command line (without the binary).</summary>
    public static IReadOnlyList<string> Arguments(MediaInfo video, TimeSpan length, string folder, string list)
    {
        ArgumentNullException.ThrowIfNull(video);
        List<string> arguments =
        [
            "-hide_banner", "-nostdin", "-loglevel", "error", "-copyts", "-i", video.Path,
            "-map", "0:v:0", "-c", "copy", "-f", "segment", "-segment_format", "mp4", "-avoid_negative_ts", "disabled",
        ];
        var times = CutTimes(video.VideoStart, video.Duration, length);
        if (times.Count > 0)
        {
            arguments.AddRange(["-segment_times", string.Join(',', times.Select(t => t.TotalSeconds.ToString("0.######", CultureInfo.InvariantCulture)))]);
        }
        else
        {
            // Shorter than one piece: a length beyond the end keeps it whole.
            arguments.AddRange(["-segment_time", (video.Duration + length).TotalSeconds.ToString("0.######", CultureInfo.InvariantCulture)]);
        }

        arguments.AddRange(["-segment_list", list, "-segment_list_type", "csv", System.IO.Path.Combine(folder, "%06d.mp4")]);
        return arguments;
    }

    /// <summary>The times to cut at: each multiple of <paramref name="length"/> after <paramref name="start"/>, before the end.</summary>
    public static IReadOnlyList<TimeSpan> CutTimes(TimeSpan start, TimeSpan duration, TimeSpan length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(length, TimeSpan.Zero);
        var times = new List<TimeSpan>();
        for (var at = start + length; at < start + duration; at += length)
        {
            times.Add(at);
        }

        return times;
    }

    // The segment list has one "file,start,end" row per piece, in order; its first start is the muxer's zero, so the
    // first piece starts where the video does.
    private static async Task<List<VideoSegment>> ReadListAsync(MediaInfo video, string folder, string list, CancellationToken cancellationToken)
    {
        var segments = new List<VideoSegment>();
        foreach (var row in await File.ReadAllLinesAsync(list, cancellationToken).ConfigureAwait(false))
        {
            var cells = row.Split(',');
            if (cells.Length < 3 || !double.TryParse(cells[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var start))
            {
                continue;
            }

            var path = System.IO.Path.Combine(folder, cells[0]);
            if (new FileInfo(path) is { Exists: true, Length: > 0 })
            {
                segments.Add(new VideoSegment(segments.Count, path, segments.Count == 0 ? video.VideoStart : TimeSpan.FromSeconds(start)));
            }
        }

        return segments;
    }
}
