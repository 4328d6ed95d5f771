using GEdge.Vision;
using SkiaSharp;

namespace GEdge.Rendering.Tests;

public sealed class DetectionPainterTests
{
    private static readonly SKColor s_background = new(0x40, 0x50, 0x60);

    [Theory]
    [InlineData(1280, 720, 3)]
    [InlineData(1920, 1080, 4)]
    [InlineData(960, 540, 2)]
    [InlineData(333, 187, 2)]
    [InlineData(3840, 2160, 9)]
    [InlineData(720, 1280, 3)]
    public void LineWidth_ScalesWithTheShorterSideOfTheFrame(int width, int height, int expected)
    {
        using var painter = new DetectionPainter(width, height);
        Assert.Equal(expected, painter.LineWidth);
    }

    [Fact]
    public void LabelTypeface_IsTheEmbeddedDejaVuSansBold()
    {
        Assert.Equal("DejaVu Sans", LabelTypeface.Instance.FamilyName);
        Assert.True(LabelTypeface.Instance.IsBold);
    }

    [Fact]
    public void Paint_Box_DrawsItsOutlineInTheClassColourInsideTheBox()
    {
        using var frame = Frame(640, 360);
        using var painter = new DetectionPainter(640, 360);
        var box = new BoundingBox(100, 150, 200, 120);

        Paint(painter, frame, new Detection(7, "truck", 0.87f, box));

        var colour = ClassPalette.ColorOf(7);
        var line = painter.LineWidth;
        for (var d = 0; d < line; d++)
        {
            Assert.Equal(colour, frame.GetPixel(100 + d, 210)); // left side
            Assert.Equal(colour, frame.GetPixel(299 - d, 210)); // right side
            Assert.Equal(colour, frame.GetPixel(200, 269 - d)); // bottom side
        }

        Assert.Equal(s_background, frame.GetPixel(100 + line, 210));
        Assert.Equal(s_background, frame.GetPixel(299 - line, 210));
        Assert.Equal(s_background, frame.GetPixel(200, 269 - line));
        Assert.Equal(s_background, frame.GetPixel(99, 210)); // just outside
        Assert.Equal(s_background, frame.GetPixel(300, 210));
        Assert.Equal(s_background, frame.GetPixel(200, 270));
        Assert.Equal(s_background, frame.GetPixel(200, 210)); // the box's inside is left alone
    }

    [Fact]
    public void Paint_Box_LeavesEveryPixelOutsideTheBoxAndItsTagUnchanged()
    {
        using var frame = Frame(640, 360);
        using var painter = new DetectionPainter(640, 360);

        Paint(painter, frame, new Detection(0, "person", 0.87f, new BoundingBox(100, 150, 200, 120)));

        // The tag sits on the box's top edge; nothing else may change.
        var tagTop = 150 - painter.TagHeight;
        var changedOutside = 0;
        for (var y = 0; y < 360; y++)
        {
            for (var x = 0; x < 640; x++)
            {
                var inBox = x is >= 100 and < 300 && y is >= 150 and < 270;
                var inTagBand = y >= tagTop && y < 150 && x >= 100;
                if (!inBox && !inTagBand && frame.GetPixel(x, y) != s_background)
                {
                    changedOutside++;
                }
            }
        }

        Assert.Equal(0, changedOutside);
    }

    [Fact]
    public void Paint_Tag_HasTheClassColourBackgroundAndReadableText()
    {
        using var frame = Frame(640, 360);
        using var painter = new DetectionPainter(640, 360);

        Paint(painter, frame, new Detection(2, "car", 0.5f, new BoundingBox(100, 150, 200, 120)));

        var colour = ClassPalette.ColorOf(2);
        var text = ClassPalette.TextColorOn(colour);
        var (background, glyphs) = CountTagPixels(frame, painter, 100, 150, colour, text);
        Assert.True(background > 200, $"only {background} pixels of the tag have the class colour");

        // A real font draws the glyphs: "car 0.50" in 12-px bold covers well over a hundred pixels in the text colour.
        Assert.True(glyphs > 100, $"only {glyphs} pixels of the tag are in the text colour {text}: the label font drew nothing");
    }

    [Fact]
    public void Paint_BoxAtTheTopOfTheFrame_PutsTheTagInsideTheBox()
    {
        using var frame = Frame(640, 360);
        using var painter = new DetectionPainter(640, 360);

        Paint(painter, frame, new Detection(3, "motorbike", 0.9f, new BoundingBox(50, 0, 300, 200)));

        var colour = ClassPalette.ColorOf(3);
        var (background, glyphs) = CountTagPixels(frame, painter, 50, 0, colour, ClassPalette.TextColorOn(colour), below: true);
        Assert.True(background > 200 && glyphs > 100, $"tag inside the box: {background} background and {glyphs} text pixels");
    }

    [Fact]
    public void Paint_BoxAtTheRightEdge_KeepsTheWholeTagInTheFrame()
    {
        using var frame = Frame(320, 240);
        using var painter = new DetectionPainter(320, 240);

        Paint(painter, frame, new Detection(4, "aeroplane", 0.99f, new BoundingBox(300, 100, 20, 50)));

        // The tag is wider than the box, so it slides left; its right end touches the frame's last column.
        var colour = ClassPalette.ColorOf(4);
        var tagRow = 100 - 2;
        Assert.NotEqual(s_background, frame.GetPixel(319, tagRow));
        Assert.NotEqual(s_background, frame.GetPixel(250, tagRow));
        Assert.Equal(colour, frame.GetPixel(319, 120));
    }

    [Fact]
    public void Paint_BoxOutsideTheFrame_ChangesNothing()
    {
        using var frame = Frame(320, 240);
        using var painter = new DetectionPainter(320, 240);

        Paint(painter, frame, new Detection(1, "bicycle", 0.6f, new BoundingBox(400, 300, 50, 50)));

        Assert.All(frame.Pixels, pixel => Assert.Equal(s_background, pixel));
    }

    [Fact]
    public void Paint_FractionalBox_SnapsToWholePixelsWithoutBlendedEdges()
    {
        using var frame = Frame(320, 240);
        using var painter = new DetectionPainter(320, 240);

        Paint(painter, frame, new Detection(5, "bus", 0.7f, new BoundingBox(40.4f, 60.6f, 100.2f, 80.3f)));

        // Left edge rounds to x = 40; the pixel before it is untouched, not half-blended.
        Assert.Equal(ClassPalette.ColorOf(5), frame.GetPixel(40, 100));
        Assert.Equal(s_background, frame.GetPixel(39, 100));
    }

    [Fact]
    public void Paint_ManyFramesWithTheSameClasses_AllocatesNothingAfterTheFirst()
    {
        using var frame = Frame(640, 360);
        using var painter = new DetectionPainter(640, 360);
        var detections = new[]
        {
            new Detection(0, "person", 0.87f, new BoundingBox(10, 40, 100, 200)),
            new Detection(2, "car", 0.55f, new BoundingBox(300, 100, 200, 120)),
        };
        using var canvas = new SKCanvas(frame);
        painter.Paint(canvas, detections);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            painter.Paint(canvas, detections);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Paint_OnYuvPlanes_DrawsTheClassColourConvertedByTheVideosMatrix()
    {
        var frame = YuvFrame(640, 360);
        using var painter = new DetectionPainter(640, 360);

        painter.Paint(frame.Pixels, frame.Layout, YuvMatrix.Bt709, [new Detection(7, "truck", 0.87f, new BoundingBox(100, 150, 200, 120))]);

        // Line width 2 on even coordinates covers whole chroma samples too, so all three values are exact.
        var (y, cb, cr) = YuvMatrix.Bt709.ToYuv(ClassPalette.ColorOf(7));
        Assert.Equal(2, painter.LineWidth);
        Assert.Equal((y, y), (Luma(frame, 100, 200), Luma(frame, 101, 200)));
        Assert.Equal(y, Luma(frame, 200, 269));
        Assert.Equal(cb, Chroma(frame, 1, 50, 100));
        Assert.Equal(cr, Chroma(frame, 2, 50, 100));
        Assert.Equal(cb, Chroma(frame, 1, 149, 100));
        Assert.Equal(cr, Chroma(frame, 2, 149, 100));
        Assert.Equal(100, Luma(frame, 102, 200));
        Assert.Equal(100, Luma(frame, 99, 200));
        Assert.Equal(128, Chroma(frame, 1, 51, 100));
        Assert.Equal(128, Chroma(frame, 2, 49, 100));
    }

    [Fact]
    public void Paint_OnYuvPlanes_LeavesEverySampleOutsideTheBoxAndItsTagUnchanged()
    {
        var frame = YuvFrame(640, 360);
        using var painter = new DetectionPainter(640, 360);

        painter.Paint(frame.Pixels, frame.Layout, YuvMatrix.Bt709, [new Detection(0, "person", 0.87f, new BoundingBox(101, 151, 199, 119))]);

        var tagTop = 151 - painter.TagHeight;
        var layout = frame.Layout;
        var changed = 0;
        for (var y = 0; y < 360; y++)
        {
            for (var x = 0; x < 640; x++)
            {
                // Odd edges on purpose: a chroma sample covers 2x2 pixels, so one that the box covers partly is
                // blended, and those are the only samples past the box that may change.
                var inBox = x is >= 101 and < 300 && y is >= 151 and < 270;
                var inTag = y >= tagTop && y < 151 && x >= 101;
                var chromaNear = x / 2 is >= 50 and < 150 && y / 2 >= (tagTop / 2) && y / 2 < 135;
                changed += !inBox && !inTag && Luma(frame, x, y) != 100 ? 1 : 0;
                changed += !chromaNear && Chroma(frame, 1, x / 2, y / 2) != 128 ? 1 : 0;
                changed += !chromaNear && Chroma(frame, 2, x / 2, y / 2) != 128 ? 1 : 0;
            }
        }

        Assert.Equal(0, changed);
        Assert.Equal(640 * 360 * 3 / 2, layout.FrameBytes);

        // The half-covered chroma sample on the box's left edge is the mean of old and new.
        var (_, cb, _) = YuvMatrix.Bt709.ToYuv(ClassPalette.ColorOf(0));
        Assert.Equal((byte)((cb + 128 + 1) / 2), Chroma(frame, 1, 50, 100));
    }

    [Fact]
    public void FrameLayout_OddSize_Uses444PlanesOfTheFullSize()
    {
        var layout = FrameLayout.For(333, 187);

        Assert.Equal(("yuv444p", 333, 187, 333 * 187 * 3), (layout.PixelFormat, layout.ChromaWidth, layout.ChromaHeight, layout.FrameBytes));
    }

    [Fact]
    public void Paint_OnYuvPlanes_AllocatesNothingAfterTheFirstFrame()
    {
        var frame = YuvFrame(640, 360);
        using var painter = new DetectionPainter(640, 360);
        var detections = new[]
        {
            new Detection(0, "person", 0.87f, new BoundingBox(10, 40, 100, 200)),
            new Detection(2, "car", 0.55f, new BoundingBox(301, 101, 199, 121)),
        };
        painter.Paint(frame.Pixels, frame.Layout, YuvMatrix.Bt709, detections);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            painter.Paint(frame.Pixels, frame.Layout, YuvMatrix.Bt709, detections);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Paint_OnYuvPlanesOfAnotherSize_IsRejected()
    {
        var frame = YuvFrame(320, 240);
        using var painter = new DetectionPainter(640, 360);

        var failure = Assert.Throws<ArgumentException>(() => painter.Paint(frame.Pixels, frame.Layout, YuvMatrix.Bt709, []));

        Assert.StartsWith("This painter draws 640x360 frames, not 320x240.", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Paint_OnYuvPlanes_MatchesPaintingInRgbAndConverting()
    {
        // The same detections drawn both ways, on 4:4:4 planes so no subsampling differs: every sample agrees within
        // one level of rounding, anti-aliased text included.
        using var painter = new DetectionPainter(333, 187);
        var detections = new[]
        {
            new Detection(0, "person", 0.87f, new BoundingBox(10, 40, 100, 120)),
            new Detection(9, "traffic light", 0.42f, new BoundingBox(200, 10, 80, 60)),
        };
        using var rgb = Frame(333, 187);
        Paint(painter, rgb, detections);
        var (y0, cb0, cr0) = YuvMatrix.Bt709.ToYuv(s_background);
        var layout = FrameLayout.For(333, 187);
        var yuv = new byte[layout.FrameBytes];
        yuv.AsSpan(0, (int)layout.LumaBytes).Fill(y0);
        yuv.AsSpan((int)layout.LumaBytes, (int)layout.ChromaBytes).Fill(cb0);
        yuv.AsSpan((int)(layout.LumaBytes + layout.ChromaBytes)).Fill(cr0);

        painter.Paint(yuv, layout, YuvMatrix.Bt709, detections);

        var plane = 333 * 187;
        var worst = 0;
        for (var i = 0; i < plane; i++)
        {
            var (y, cb, cr) = YuvMatrix.Bt709.ToYuv(rgb.GetPixel(i % 333, i / 333));
            worst = Math.Max(worst, Math.Max(Math.Abs(yuv[i] - y), Math.Max(Math.Abs(yuv[plane + i] - cb), Math.Abs(yuv[(2 * plane) + i] - cr))));
        }

        Assert.InRange(worst, 0, 1);
    }

    [Fact]
    public void Paint_AfterDispose_IsRejected()
    {
        using var frame = Frame(64, 48);
        using var canvas = new SKCanvas(frame);
        var painter = new DetectionPainter(64, 48);
        painter.Dispose();

        Assert.Throws<ObjectDisposedException>(() => painter.Paint(canvas, []));
    }

    private static RawFrame YuvFrame(int width, int height)
    {
        var layout = FrameLayout.For(width, height);
        var pixels = new byte[layout.FrameBytes];
        pixels.AsSpan(0, (int)layout.LumaBytes).Fill(100);
        pixels.AsSpan((int)layout.LumaBytes).Fill(128);
        return new RawFrame(pixels, layout);
    }

    private static byte Luma(RawFrame frame, int x, int y) => frame.Pixels[(y * frame.Layout.Width) + x];

    private static byte Chroma(RawFrame frame, int plane, int x, int y) =>
        frame.Pixels[(int)frame.Layout.LumaBytes + ((plane - 1) * (int)frame.Layout.ChromaBytes) + (y * frame.Layout.ChromaWidth) + x];

    private static SKBitmap Frame(int width, int height)
    {
        var frame = new SKBitmap(new SKImageInfo(width, height, SKColorType.Bgra8888, SKAlphaType.Opaque));
        frame.Erase(s_background);
        return frame;
    }

    private static void Paint(DetectionPainter painter, SKBitmap frame, params Detection[] detections)
    {
        using var canvas = new SKCanvas(frame);
        painter.Paint(canvas, detections);
        canvas.Flush();
    }

    private static (int Background, int Glyphs) CountTagPixels(SKBitmap frame, DetectionPainter painter, int left, int boxTop, SKColor colour, SKColor text, bool below = false)
    {
        var height = painter.TagHeight;
        var top = below ? boxTop : boxTop - height;
        var (background, glyphs) = (0, 0);
        for (var y = Math.Max(0, top); y < top + height; y++)
        {
            for (var x = left; x < Math.Min(frame.Width, left + 200); x++)
            {
                var pixel = frame.GetPixel(x, y);
                background += pixel == colour ? 1 : 0;

                // Glyph pixels, anti-aliased edges included: nearer the text colour than the tag's background.
                glyphs += pixel != colour && Distance(pixel, text) < Distance(pixel, colour) ? 1 : 0;
            }
        }

        return (background, glyphs);
    }

    private static int Distance(SKColor a, SKColor b) =>
        Math.Abs(a.Red - b.Red) + Math.Abs(a.Green - b.Green) + Math.Abs(a.Blue - b.Blue);

    private sealed record RawFrame(byte[] Pixels, FrameLayout Layout);
}
