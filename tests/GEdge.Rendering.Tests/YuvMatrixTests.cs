using SkiaSharp;

namespace GEdge.Rendering.Tests;

public sealed class YuvMatrixTests
{
    [Theory]
    [InlineData(255, 255, 255, 235, 128, 128)]
    [InlineData(0, 0, 0, 16, 128, 128)]
    [InlineData(255, 0, 0, 63, 102, 240)]
    [InlineData(0, 0, 255, 32, 240, 118)]
    public void ToYuv_Bt709_GivesTheStandardLimitedRangeValues(byte r, byte g, byte b, byte y, byte cb, byte cr)
    {
        Assert.Equal((y, cb, cr), YuvMatrix.Bt709.ToYuv(new SKColor(r, g, b)));
    }

    [Fact]
    public void ToYuv_Bt601Red_IsTheTextbookValue()
    {
        Assert.Equal(((byte)81, (byte)90, (byte)240), YuvMatrix.Bt601.ToYuv(new SKColor(255, 0, 0)));
    }

    [Fact]
    public void ToYuv_FullRange_SpansZeroTo255()
    {
        var full = new YuvMatrix(0.299, 0.114, fullRange: true);

        Assert.Equal(((byte)255, (byte)128, (byte)128), full.ToYuv(SKColors.White));
        Assert.Equal(((byte)0, (byte)128, (byte)128), full.ToYuv(SKColors.Black));
    }

    [Theory]
    [InlineData("bt709", "tv", 480, 0.2126, false)]
    [InlineData("smpte170m", "tv", 1080, 0.299, false)]
    [InlineData("bt470bg", "pc", 1080, 0.299, true)]
    [InlineData("bt2020nc", "tv", 2160, 0.2627, false)]
    [InlineData(null, null, 720, 0.2126, false)]
    [InlineData(null, null, 576, 0.299, false)]
    public void For_UsesTheTaggedMatrixOrWhatPlayersAssume(string? space, string? range, int height, double redWeight, bool fullRange)
    {
        var matrix = YuvMatrix.For(new ColorTags(space, range, null, null), height);

        Assert.Equal((redWeight, fullRange), (matrix.RedWeight, matrix.FullRange));
    }

    [Theory]
    [InlineData("bt709")]
    [InlineData("bt601")]
    public async Task ToYuv_EveryClassColour_MatchesFfmpegsOwnConversionWithinOneLevel(string ffmpegMatrix)
    {
        // ffmpeg converts a strip of 16x16 squares, one per class colour, from RGB with the same matrix.
        using var scratch = new TempFolder("gedge-rendering-tests-");
        var rgb = new byte[16 * 16 * 80 * 3];
        for (var classId = 0; classId < 80; classId++)
        {
            var colour = ClassPalette.ColorOf(classId);
            for (var y = 0; y < 16; y++)
            {
                for (var x = 0; x < 16; x++)
                {
                    var i = ((y * 16 * 80) + (classId * 16) + x) * 3;
                    (rgb[i], rgb[i + 1], rgb[i + 2]) = (colour.Red, colour.Green, colour.Blue);
                }
            }
        }

        var input = scratch.PathOf("strip.rgb");
        var output = scratch.PathOf("strip.yuv");
        await File.WriteAllBytesAsync(input, rgb);
        await MediaTools.FfmpegAsync("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "1280x16", "-i", input,
            "-vf", $"scale=out_color_matrix={ffmpegMatrix}:out_range=limited,format=yuv444p", "-f", "rawvideo", output);
        var yuv = await File.ReadAllBytesAsync(output);

        var matrix = ffmpegMatrix == "bt709" ? YuvMatrix.Bt709 : YuvMatrix.Bt601;
        var plane = 1280 * 16;
        for (var classId = 0; classId < 80; classId++)
        {
            var centre = (8 * 1280) + (classId * 16) + 8;
            var (y, cb, cr) = matrix.ToYuv(ClassPalette.ColorOf(classId));
            Assert.InRange(yuv[centre] - y, -1, 1);
            Assert.InRange(yuv[plane + centre] - cb, -1, 1);
            Assert.InRange(yuv[(2 * plane) + centre] - cr, -1, 1);
        }
    }
}
