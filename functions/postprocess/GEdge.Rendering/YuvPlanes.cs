using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace GEdge.Rendering;

/// <summary>
/// The Y, Cb and Cr planes of one frame in a raw buffer, with the two operations the painter needs: fill a rectangle
/// with a colour and copy an opaque BGRA image in. Only the samples under the rectangle change.
/// </summary>
/// <remarks>
/// Drawing here rather than through Skia: Skia has no fast path for 8-bit grey targets (text on a Gray8 canvas measured
/// 8x slower than on BGRA), while boxes are rectangles and tags are small images Skia renders quickly in BGRA.
/// A chroma sample that a rectangle covers only partly (a 2x2 block at its edge) becomes the coverage-weighted mean of
/// the old and new chroma, which is what an encoder's own subsampling would make of the same edge drawn in RGB.
/// </remarks>
internal readonly ref struct YuvPlanes
{
    private readonly Span<byte> _luma;
    private readonly Span<byte> _blue;
    private readonly Span<byte> _red;
    private readonly FrameLayout _layout;

    public YuvPlanes(Span<byte> frame, FrameLayout layout)
    {
        _layout = layout;
        _luma = frame[..(int)layout.LumaBytes];
        _blue = frame.Slice((int)layout.LumaBytes, (int)layout.ChromaBytes);
        _red = frame.Slice((int)(layout.LumaBytes + layout.ChromaBytes), (int)layout.ChromaBytes);
    }

    /// <summary>Fills <paramref name="area"/> (frame pixels, inside the frame) with one colour.</summary>
    // Pixel loops run on every frame from the first: compiled optimised at once rather than after tiering catches up.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Fill(SKRectI area, (byte Y, byte Cb, byte Cr) color)
    {
        var width = _layout.Width;
        for (var y = area.Top; y < area.Bottom; y++)
        {
            _luma.Slice((y * width) + area.Left, area.Width).Fill(color.Y);
        }

        if (!_layout.Subsampled)
        {
            for (var y = area.Top; y < area.Bottom; y++)
            {
                _blue.Slice((y * width) + area.Left, area.Width).Fill(color.Cb);
                _red.Slice((y * width) + area.Left, area.Width).Fill(color.Cr);
            }

            return;
        }

        var chromaWidth = _layout.ChromaWidth;
        for (var cy = area.Top >> 1; cy <= (area.Bottom - 1) >> 1; cy++)
        {
            var rows = Covered(cy, area.Top, area.Bottom);
            for (var cx = area.Left >> 1; cx <= (area.Right - 1) >> 1; cx++)
            {
                var covered = rows * Covered(cx, area.Left, area.Right);
                var i = (cy * chromaWidth) + cx;
                _blue[i] = Blend(_blue[i], color.Cb * (float)covered, covered);
                _red[i] = Blend(_red[i], color.Cr * (float)covered, covered);
            }
        }
    }

    /// <summary>Copies an opaque BGRA image (rows <paramref name="stride"/> bytes apart) into <paramref name="area"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Draw(ReadOnlySpan<byte> bgra, int stride, SKRectI area, YuvMatrix matrix)
    {
        var width = _layout.Width;
        var (lastPixel, lastLuma) = (0u, matrix.Luma(0, 0, 0));
        for (var y = area.Top; y < area.Bottom; y++)
        {
            var source = bgra.Slice((y - area.Top) * stride, area.Width * 4);
            var pixels = MemoryMarshal.Cast<byte, uint>(source);
            var luma = _luma.Slice((y * width) + area.Left, area.Width);
            for (var x = 0; x < luma.Length; x++)
            {
                // A tag is mostly its flat background: convert each run of equal pixels once.
                if (pixels[x] != lastPixel)
                {
                    lastPixel = pixels[x];
                    lastLuma = matrix.Luma(source[(4 * x) + 2], source[(4 * x) + 1], source[4 * x]);
                }

                luma[x] = lastLuma;
            }

            if (!_layout.Subsampled)
            {
                var blue = _blue.Slice((y * width) + area.Left, area.Width);
                var red = _red.Slice((y * width) + area.Left, area.Width);
                for (var x = 0; x < blue.Length; x++)
                {
                    var (r, g, b) = (source[(4 * x) + 2], source[(4 * x) + 1], source[4 * x]);
                    blue[x] = matrix.BlueDifference(r, g, b);
                    red[x] = matrix.RedDifference(r, g, b);
                }
            }
        }

        if (_layout.Subsampled)
        {
            DrawSubsampledChroma(bgra, stride, area, matrix);
        }
    }

    // Chroma is linear in R, G and B, so the mean chroma of a 2x2 block is the chroma of its summed colour.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DrawSubsampledChroma(ReadOnlySpan<byte> bgra, int stride, SKRectI area, YuvMatrix matrix)
    {
        var chromaWidth = _layout.ChromaWidth;
        for (var cy = area.Top >> 1; cy <= (area.Bottom - 1) >> 1; cy++)
        {
            var firstRow = Math.Max(2 * cy, area.Top) - area.Top;
            var rows = Covered(cy, area.Top, area.Bottom);
            for (var cx = area.Left >> 1; cx <= (area.Right - 1) >> 1; cx++)
            {
                var firstColumn = Math.Max(2 * cx, area.Left) - area.Left;
                var columns = Covered(cx, area.Left, area.Right);
                var (red, green, blue) = (0, 0, 0);
                for (var row = firstRow; row < firstRow + rows; row++)
                {
                    var pixel = bgra.Slice((row * stride) + (firstColumn * 4), columns * 4);
                    for (var p = 0; p < pixel.Length; p += 4)
                    {
                        (blue, green, red) = (blue + pixel[p], green + pixel[p + 1], red + pixel[p + 2]);
                    }
                }

                var covered = rows * columns;
                var i = (cy * chromaWidth) + cx;
                _blue[i] = Blend(_blue[i], matrix.BlueDifferenceOfSum(red, green, blue, covered), covered);
                _red[i] = Blend(_red[i], matrix.RedDifferenceOfSum(red, green, blue, covered), covered);
            }
        }
    }

    // How many of the two pixels 2c and 2c+1 lie in [start, end).
    private static int Covered(int c, int start, int end) =>
        (2 * c >= start && 2 * c < end ? 1 : 0) + ((2 * c) + 1 >= start && (2 * c) + 1 < end ? 1 : 0);

    // The mean over a 2x2 block: the new samples' sum plus the old value for each pixel the new ones do not cover.
    private static byte Blend(byte old, float newSum, int covered) =>
        (byte)Math.Clamp((int)(((newSum + (old * (4 - covered))) / 4) + 0.5f), 0, 255);
}
