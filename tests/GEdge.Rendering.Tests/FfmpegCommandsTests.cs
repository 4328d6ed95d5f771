using GEdge.Media;

namespace GEdge.Rendering.Tests;

public sealed class FfmpegCommandsTests
{
    private static readonly SourceVideo s_hd = new(
        "/videos/in.mp4", 1, 1280, 720, new FrameRate(30000, 1001), TimeSpan.Zero,
        new ColorTags("bt709", "tv", "bt709", "bt709"), null, ["aac"]);

    [Fact]
    public void Decode_EmitsEveryFrameOnceAsPlanarYuvInTheSourceRange()
    {
        var arguments = string.Join(' ', FfmpegCommands.Decode(s_hd));

        Assert.Equal(
            "-hide_banner -nostdin -loglevel error -i /videos/in.mp4 -map 0:1 -an -sn -dn -fps_mode passthrough "
            + "-vf scale=in_range=limited:out_range=limited -pix_fmt yuv420p -avioflags direct -f rawvideo pipe:1",
            arguments);
    }

    [Fact]
    public void Decode_UntaggedOddSource_Emits444WithoutAFilter()
    {
        var odd = s_hd with { Width = 333, Height = 187, Color = new ColorTags(null, null, null, null) };

        var arguments = string.Join(' ', FfmpegCommands.Decode(odd));

        Assert.Equal(
            "-hide_banner -nostdin -loglevel error -i /videos/in.mp4 -map 0:1 -an -sn -dn -fps_mode passthrough "
            + "-pix_fmt yuv444p -avioflags direct -f rawvideo pipe:1",
            arguments);
    }

    [Fact]
    public void Encode_ReadsRawFramesAtTheExactRationalRateAndCopiesAac()
    {
        var arguments = string.Join(' ', FfmpegCommands.Encode(s_hd, new AnnotatedVideoOptions(), "/out/a.mp4"));

        Assert.Equal(
            "-hide_banner -nostdin -loglevel error -f rawvideo -pix_fmt yuv420p -s 1280x720 -framerate 30000/1001 -i pipe:0 "
            + "-i /videos/in.mp4 -map 0:v -map 1:a -fps_mode passthrough "
            + "-c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p "
            + "-colorspace bt709 -color_range tv -color_primaries bt709 -color_trc bt709 "
            + "-c:a copy -movflags +faststart -f mp4 -y /out/a.mp4",
            arguments);
    }

    [Fact]
    public void Encode_SilentUntaggedOddSource_UsesNoSecondInputAndCodes444()
    {
        var odd = s_hd with { Width = 333, Height = 187, Color = new ColorTags(null, null, null, null), AudioCodecs = [] };

        var arguments = string.Join(' ', FfmpegCommands.Encode(odd, new AnnotatedVideoOptions(), "/out/a.mp4"));

        Assert.Equal(
            "-hide_banner -nostdin -loglevel error -f rawvideo -pix_fmt yuv444p -s 333x187 -framerate 30000/1001 -i pipe:0 "
            + "-map 0:v -fps_mode passthrough -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv444p "
            + "-movflags +faststart -f mp4 -y /out/a.mp4",
            arguments);
    }

    [Fact]
    public void Encode_MixedAudio_CopiesWhatMp4HoldsAndReencodesTheRestToAac()
    {
        var mixed = s_hd with { AudioCodecs = ["aac", "pcm_s16le", "flac"] };

        var arguments = FfmpegCommands.Encode(mixed, new AnnotatedVideoOptions { AacBitrateKbps = 160 }, "/out/a.mp4");

        Assert.Equal(
            "-c:a:0 copy -c:a:1 aac -b:a:1 160k -c:a:2 aac -b:a:2 160k",
            string.Join(' ', arguments.SkipWhile(a => a != "-c:a:0").TakeWhile(a => a != "-movflags")));
    }

    [Fact]
    public void Encode_LateVideoAndNonSquarePixels_KeepsSyncAndAspect()
    {
        var anamorphic = s_hd with { VideoOffset = TimeSpan.FromMilliseconds(40), SampleAspectRatio = "4:3" };

        var arguments = FfmpegCommands.Encode(anamorphic, new AnnotatedVideoOptions(), "/out/a.mp4");

        Assert.Equal("0.04", arguments[arguments.IndexOf("-itsoffset") + 1]);
        Assert.Equal("setsar=4/3", arguments[arguments.IndexOf("-vf") + 1]);
    }

    [Fact]
    public void Transcode_UsesTheSameEncoderAndAudioSettingsAsTheAnnotatedVideo()
    {
        var options = new AnnotatedVideoOptions { Preset = "faster", ConstantRateFactor = 20 };

        var arguments = string.Join(' ', FfmpegCommands.Transcode(s_hd, options, "/out/b.mp4"));

        Assert.Equal(
            "-hide_banner -nostdin -loglevel error -i /videos/in.mp4 -map 0:1 -map 0:a -fps_mode passthrough "
            + "-c:v libx264 -preset faster -crf 20 -pix_fmt yuv420p -c:a copy -movflags +faststart -f mp4 -y /out/b.mp4",
            arguments);
    }

    [Theory]
    [InlineData(1280, 720, "yuv420p")]
    [InlineData(333, 187, "yuv444p")]
    [InlineData(334, 187, "yuv444p")]
    [InlineData(333, 188, "yuv444p")]
    public void OutputPixelFormat_Is420UnlessASideIsOdd(int width, int height, string expected)
    {
        Assert.Equal(expected, FfmpegCommands.OutputPixelFormat(width, height));
    }

    [Theory]
    [InlineData("aac", true)]
    [InlineData("mp3", true)]
    [InlineData("opus", true)]
    [InlineData("ac3", true)]
    [InlineData("pcm_s16le", false)]
    [InlineData("flac", false)]
    [InlineData("vorbis", false)]
    public void CopiesIntoMp4_OnlyCodecsMp4AndPlayersTake(string codec, bool expected)
    {
        Assert.Equal(expected, FfmpegCommands.CopiesIntoMp4(codec));
    }
}
