namespace GEdge.Rendering.Tests;

/// <summary>The committed clip and the tiny ones the tests make with ffmpeg's own sources.</summary>
public static class TestVideos
{
    /// <summary>1.5 s dashcam, 1280x720, 25 fps, H.264 + AAC (tests/assets/videos, MIT).</summary>
    public static string Road { get; } = Path.Combine(AppContext.BaseDirectory, "assets", "videos", "road.mp4");

    /// <summary>
    /// A silent 1 s lossless clip of ffmpeg's test pattern (colour bars, a moving gradient, a frame counter) at any size and
    /// rate, tagged BT.709 like an HD camera's: 4:2:0 like a camera's, or 4:4:4 where an odd size rules 4:2:0 out.
    /// testsrc draws in RGB, so odd sizes come out exactly as asked.
    /// </summary>
    public static async Task<string> PatternAsync(TempFolder scratch, int width, int height, string rate, string name = "pattern.mp4")
    {
        var path = scratch.PathOf(name);
        await MediaTools.FfmpegAsync(
            "-f", "lavfi", "-i", $"testsrc=size={width}x{height}:rate={rate}:duration=1",
            "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", width % 2 == 0 && height % 2 == 0 ? "yuv420p" : "yuv444p",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
            path);
        return path;
    }

    /// <summary>A 1 s 320x240 clip with a tone in 16-bit PCM, an audio codec MP4 cannot hold, in Matroska.</summary>
    public static async Task<string> WithPcmAudioAsync(TempFolder scratch)
    {
        var path = scratch.PathOf("pcm.mkv");
        await MediaTools.FfmpegAsync(
            "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=1",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", path);
        return path;
    }

    /// <summary>A 1 s 320x240 clip stored as a phone stores portrait video: coded landscape, with a 90-degree display rotation.</summary>
    public static async Task<string> RotatedAsync(TempFolder scratch)
    {
        var landscape = scratch.PathOf("landscape.mp4");
        var path = scratch.PathOf("portrait.mov");
        await MediaTools.FfmpegAsync("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", landscape);

        // ffmpeg 5.1 writes the display matrix from the rotate tag when the stream is copied into MOV.
        await MediaTools.FfmpegAsync("-i", landscape, "-c", "copy", "-metadata:s:v:0", "rotate=90", path);
        return path;
    }
}
