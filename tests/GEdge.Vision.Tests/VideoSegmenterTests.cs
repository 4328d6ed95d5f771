using GEdge.Media;

namespace GEdge.Vision.Tests;

/// <summary>
/// The cut at keyframes: every frame of the original comes out of exactly one piece, at its original time, whatever the
/// clip's shape. ffprobe is the witness: it decodes the original and every piece and lists each frame's timestamp.
/// </summary>
public sealed class VideoSegmenterTests : IDisposable
{
    private readonly TempFolder _folder = new("gedge-segmenter-");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Cut_SixtySecondsAtTenSecondPieces_KeepsEveryFrameAtItsTimeAcrossTheBoundaries()
    {
        // walking.mp4 has a keyframe every 3 s and B-frames (a decode delay that a careless copy shifts by 80 ms).
        var clip = _folder.PathOf("walking-60s.mp4");
        await MediaTools.FfmpegAsync("-stream_loop", "4", "-i", TestAssets.Video("walking.mp4"), "-c", "copy", "-t", "60", clip);

        var segments = await CutAsync(clip, TimeSpan.FromSeconds(10));

        Assert.InRange(segments.Count, 5, 6);
        Assert.Equal(await MediaTools.FrameTimesAsync(clip), await FrameTimesOfAsync(segments));
        Assert.Equal(TimeSpan.Zero, segments[0].Start);
        Assert.All(segments.Skip(1), s => Assert.InRange(s.Start.TotalSeconds, 10 * s.Index, (10 * s.Index) + 3.1));
    }

    [Fact]
    public async Task Cut_AVideoWithOneKeyframe_IsOnePiece()
    {
        var clip = _folder.PathOf("one-keyframe.mp4");
        await MediaTools.FfmpegAsync("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "6", "-c:v", "libx264", "-g", "1000", "-pix_fmt", "yuv420p", clip);

        var segments = await CutAsync(clip, TimeSpan.FromSeconds(2));

        var only = Assert.Single(segments);
        Assert.Equal(150, (await MediaTools.FrameTimesAsync(only.Path)).Count);
    }

    [Fact]
    public async Task Cut_AClipStartingAt100Seconds_CutsFromItsStartAndKeepsItsTimes()
    {
        var clip = _folder.PathOf("late-start.mp4");
        await MediaTools.FfmpegAsync("-stream_loop", "1", "-i", TestAssets.Video("walking.mp4"), "-c", "copy", "-t", "27", "-output_ts_offset", "100", clip);

        var segments = await CutAsync(clip, TimeSpan.FromSeconds(10));

        // Cut from its own start: pieces of about 10 s, not one per keyframe until the timestamps pass 100 s.
        Assert.InRange(segments.Count, 2, 3);
        Assert.Equal(100, segments[0].Start.TotalSeconds, 3);
        var times = await MediaTools.FrameTimesAsync(clip);
        Assert.True(times[0] >= 100, $"The clip starts at {times[0]} s.");
        Assert.Equal(times, await FrameTimesOfAsync(segments));
    }

    [Fact]
    public async Task Cut_AVariableFrameRateClip_KeepsItsUnevenTimes()
    {
        // Every third frame of a 25 fps source dropped, timestamps kept: gaps of 40 and 80 ms in turn.
        var clip = _folder.PathOf("vfr.mp4");
        await MediaTools.FfmpegAsync("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "8", "-vf", "select='mod(n\\,3)'",
            "-fps_mode", "vfr", "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", clip);

        var segments = await CutAsync(clip, TimeSpan.FromSeconds(3));

        Assert.True(segments.Count >= 2);
        var times = await MediaTools.FrameTimesAsync(clip);
        Assert.Contains(times.Zip(times.Skip(1), (a, b) => Math.Round(b - a, 3)).Distinct(), gap => gap > 0.05);
        Assert.Equal(times, await FrameTimesOfAsync(segments));
    }

    [Fact]
    public async Task Cut_APhoneClipWithRotation_KeepsTheRotationInEveryPiece()
    {
        var clip = _folder.PathOf("rotated.mp4");
        await MediaTools.FfmpegAsync("-i", TestAssets.Video("road.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=90", clip);

        var segments = await CutAsync(clip, TimeSpan.FromSeconds(0.5));

        Assert.Equal(2, segments.Count);
        foreach (var segment in segments)
        {
            Assert.Equal(90, Math.Abs(await MediaTools.RotationAsync(segment.Path)));
            Assert.DoesNotContain(await MediaTools.StreamsAsync(segment.Path), s => s.Type == "audio");
        }

        Assert.Equal(38, (await FrameTimesOfAsync(segments)).Count);
    }

    [Fact]
    public void CutTimes_AreMultiplesOfTheLengthFromTheStart_BeforeTheEnd()
    {
        Assert.Equal(
            [TimeSpan.FromSeconds(110), TimeSpan.FromSeconds(120)],
            VideoSegmenter.CutTimes(TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(10)));
        Assert.Empty(VideoSegmenter.CutTimes(TimeSpan.Zero, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10)));
    }

    private async Task<IReadOnlyList<VideoSegment>> CutAsync(string clip, TimeSpan length)
    {
        var media = await VideoProbe.AnalyseAsync(clip);
        var segments = await VideoSegmenter.CutAsync(media, length, _folder.PathOf("pieces-" + Path.GetFileNameWithoutExtension(clip)));
        Assert.Equal(Enumerable.Range(0, segments.Count), segments.Select(s => s.Index));
        return segments;
    }

    private static async Task<List<double>> FrameTimesOfAsync(IEnumerable<VideoSegment> segments)
    {
        var times = new List<double>();
        foreach (var segment in segments)
        {
            times.AddRange(await MediaTools.FrameTimesAsync(segment.Path));
        }

        return times;
    }
}
