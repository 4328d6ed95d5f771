using System.Diagnostics;
using GEdge.Media;

namespace GEdge.Vision.Tests;

public sealed class VideoProbeTests
{
    [Fact]
    public async Task Probe_OfAFileProbedBefore_RunsFfprobeOnlyAgainOnceTheFileHasChanged()
    {
        using var folder = new TempFolder("gedge-vision-");
        var path = folder.PathOf("upload.mp4");
        File.Copy(TestAssets.Video("road.mp4"), path);
        // The ffprobe runs of this file alone: other tests probe other files meanwhile.
        var runs = 0;
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "GEdge.Media",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (activity.DisplayName == "ffprobe" && activity.GetTagItem("file") as string == path)
                {
                    Interlocked.Increment(ref runs);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        var first = await VideoProbe.ProbeVideoAsync(path);
        var again = await VideoProbe.ProbeVideoAsync(path);
        Assert.Equal(1, runs);
        Assert.Equal((first.Width, first.FrameCount), (again.Width, again.FrameCount));

        // Another video in its place: a new size and modification time, so ffprobe is asked again.
        File.Copy(TestAssets.Video("walking.mp4"), path, overwrite: true);
        var replaced = await VideoProbe.ProbeVideoAsync(path);

        Assert.Equal(2, runs);
        Assert.NotEqual(first.FrameCount, replaced.FrameCount);
    }

    [Fact]
    public async Task ProbeVideo_ForRoadClip_ReportsItsStreams()
    {
        var info = await VideoProbe.ProbeVideoAsync(TestAssets.Video("road.mp4"));

        Assert.Equal(1280, info.Width);
        Assert.Equal(720, info.Height);
        Assert.Equal(new FrameRate(25, 1), info.FrameRate);
        Assert.Equal(38, info.FrameCount);
        Assert.Equal(TimeSpan.FromSeconds(1.52), info.Duration);
        Assert.True(info.HasAudio);
        Assert.Equal("h264", info.VideoCodec);
        Assert.Equal("aac", info.AudioCodec);
        Assert.False(info.IsStillImage);
    }

    [Fact]
    public async Task Probe_ForJpeg_ReportsAStillImageOfOneFrame()
    {
        var info = await VideoProbe.ProbeAsync(TestAssets.Image("dog.jpg"));

        Assert.True(info.IsStillImage);
        Assert.Equal((768, 576), (info.Width, info.Height));
        Assert.Equal(1, info.EstimatedFrameCount);
    }

    [Fact]
    public async Task ProbeVideo_ForStillImage_SaysItIsNotAVideo()
    {
        var error = await Assert.ThrowsAsync<MediaException>(() => VideoProbe.ProbeVideoAsync(TestAssets.Image("dog.jpg")));

        Assert.Equal(MediaErrorKind.StillImage, error.Kind);
        Assert.Equal("dog.jpg is a still image (mjpeg, 768x576), not a video: upload a video file.", error.Message);
    }

    [Fact]
    public async Task Probe_ForEmptyFile_SaysItIsEmpty()
    {
        using var folder = new TempFolder("gedge-vision-");
        await File.WriteAllBytesAsync(folder.PathOf("upload.mp4"), []);

        var error = await Assert.ThrowsAsync<MediaException>(() => VideoProbe.ProbeAsync(folder.PathOf("upload.mp4")));

        Assert.Equal(MediaErrorKind.Empty, error.Kind);
        Assert.Equal("upload.mp4 is empty (0 bytes): the upload has no content.", error.Message);
    }

    [Fact]
    public async Task Probe_ForTextFile_SaysItIsText()
    {
        using var folder = new TempFolder("gedge-vision-");
        await File.WriteAllTextAsync(folder.PathOf("notes.mp4"), "Meeting notes: bring the dashcam footage.\n");

        var error = await Assert.ThrowsAsync<MediaException>(() => VideoProbe.ProbeAsync(folder.PathOf("notes.mp4")));

        Assert.Equal(MediaErrorKind.NotMedia, error.Kind);
        Assert.Equal("notes.mp4 is a text file, not a video or image.", error.Message);
    }

    [Fact]
    public async Task Probe_ForRandomBytes_SaysFfmpegCannotReadIt()
    {
        using var folder = new TempFolder("gedge-vision-");
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);
        await File.WriteAllBytesAsync(folder.PathOf("noise.mkv"), bytes);

        var error = await Assert.ThrowsAsync<MediaException>(() => VideoProbe.ProbeAsync(folder.PathOf("noise.mkv")));

        Assert.Equal(MediaErrorKind.NotMedia, error.Kind);
        Assert.StartsWith("noise.mkv is not a video or image ffmpeg can read (", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_ForVideoCutInHalf_SaysItIsTruncated()
    {
        using var folder = new TempFolder("gedge-vision-");
        var bytes = await File.ReadAllBytesAsync(TestAssets.Video("road.mp4"));
        await File.WriteAllBytesAsync(folder.PathOf("road.mp4"), bytes.AsMemory(0, bytes.Length / 2));

        var error = await Assert.ThrowsAsync<MediaException>(() => VideoProbe.ProbeAsync(folder.PathOf("road.mp4")));

        Assert.Equal(MediaErrorKind.Truncated, error.Kind);
        Assert.Equal("road.mp4 is truncated: it ends before the video data its index lists, so the upload was cut off.", error.Message);
    }

    [Fact]
    public async Task Probe_ForMp4CutBeforeItsIndex_SaysItIsIncomplete()
    {
        using var folder = new TempFolder("gedge-vision-");

        // Only the opening 'ftyp' box survives: recognisably MP4, but the moov index that says where the frames are is gone.
        var bytes = await File.ReadAllBytesAsync(TestAssets.Video("road.mp4"));
        var cut = folder.PathOf("moovless.mp4");
        await File.WriteAllBytesAsync(cut, bytes.AsMemory(0, 32));

        var error = await Assert.ThrowsAsync<MediaException>(() => VideoProbe.ProbeAsync(cut));

        Assert.Equal(MediaErrorKind.Truncated, error.Kind);
        Assert.StartsWith("moovless.mp4 is not a complete MP4/MOV: its index (moov atom) is missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_ForMissingFile_NamesIt()
    {
        var error = await Assert.ThrowsAsync<MediaException>(() => VideoProbe.ProbeAsync("/nonexistent/clip.mp4"));

        Assert.Equal(MediaErrorKind.FileMissing, error.Kind);
        Assert.Equal("/nonexistent/clip.mp4 does not exist.", error.Message);
    }

    [Theory]
    [InlineData("25/1", 25, 1)]
    [InlineData("30000/1001", 30000, 1001)]
    [InlineData("24", 24, 1)]
    public void FrameRate_Parse_KeepsTheExactRational(string text, int numerator, int denominator) =>
        Assert.Equal(new FrameRate(numerator, denominator), FrameRate.TryParse(text));

    [Fact]
    public void FrameRate_TimeOf_IsExactForNtscRates() =>
        Assert.Equal(TimeSpan.FromTicks(10_010_000), new FrameRate(30000, 1001).TimeOf(30));
}
