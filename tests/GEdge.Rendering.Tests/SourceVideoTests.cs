using GEdge.Media;

namespace GEdge.Rendering.Tests;

public sealed class SourceVideoTests
{
    [Fact]
    public void ChooseFrameRate_ConstantRate_KeepsTheExactRealRate()
    {
        Assert.Equal(new FrameRate(30000, 1001), SourceVideo.ChooseFrameRate(new FrameRate(30000, 1001), new FrameRate(2997, 100)));
    }

    [Fact]
    public void ChooseFrameRate_FieldRateOfInterlacedVideo_TakesTheAverageSoTheLengthStays()
    {
        Assert.Equal(new FrameRate(25, 1), SourceVideo.ChooseFrameRate(new FrameRate(50, 1), new FrameRate(25, 1)));
    }

    [Fact]
    public void ChooseFrameRate_UnknownAverage_TakesTheRealRate()
    {
        Assert.Equal(new FrameRate(24, 1), SourceVideo.ChooseFrameRate(new FrameRate(24, 1), new FrameRate(0, 0)));
    }

    [Fact]
    public void ChooseFrameRate_NeitherKnown_IsNull()
    {
        Assert.Null(SourceVideo.ChooseFrameRate(new FrameRate(0, 0), null));
    }

    [Fact]
    public async Task Probe_Road_FindsItsSizeRateColourAndAudio()
    {
        var road = await SourceVideo.ProbeAsync(TestVideos.Road, CancellationToken.None);

        Assert.Equal((1280, 720, "25/1", 1), (road.Width, road.Height, road.FrameRate.ToString(), road.VideoStreamIndex));
        Assert.Equal(new ColorTags("bt709", "tv", "bt709", "bt709"), road.Color);
        Assert.Equal(["aac"], road.AudioCodecs);
        Assert.Null(road.SampleAspectRatio);
        Assert.Equal(TimeSpan.Zero, road.VideoOffset);
    }

    [Fact]
    public async Task Probe_NotAVideo_SaysItIsText()
    {
        using var scratch = new TempFolder("gedge-rendering-tests-");
        var text = scratch.PathOf("notes.mp4");
        await File.WriteAllTextAsync(text, "these are notes, not a video");

        // The probe is Media's, so the reason is the one an upload gets: the file is text, not a video.
        var failure = await Assert.ThrowsAsync<MediaException>(() => SourceVideo.ProbeAsync(text, CancellationToken.None));

        Assert.Equal(MediaErrorKind.NotMedia, failure.Kind);
        Assert.Equal("notes.mp4 is a text file, not a video or image.", failure.Message);
        Assert.Equal(text, failure.Path);
    }
}
