namespace GEdge.Rendering;

/// <summary>
/// The layout of one raw planar Y'CbCr frame on the pipes: a full-size Y plane, then the Cb and Cr planes, each
/// subsampled by two in both directions (4:2:0) or, for odd sizes, not at all (4:4:4).
/// </summary>
internal sealed record FrameLayout(int Width, int Height, string PixelFormat, int ChromaWidth, int ChromaHeight)
{
    /// <summary>The layout the pipes use for frames of this size.</summary>
    public static FrameLayout For(int width, int height)
    {
        var pixelFormat = FfmpegCommands.OutputPixelFormat(width, height);
        var subsampled = pixelFormat == "yuv420p";
        var layout = new FrameLayout(width, height, pixelFormat, subsampled ? width / 2 : width, subsampled ? height / 2 : height);
        if (layout.LumaBytes + (2L * layout.ChromaBytes) > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"A {width}x{height} frame does not fit in one buffer.");
        }

        return layout;
    }

    /// <summary>Whether Cb and Cr have one sample per 2x2 pixels (else one per pixel).</summary>
    public bool Subsampled => ChromaWidth != Width;

    public long LumaBytes => (long)Width * Height;

    public long ChromaBytes => (long)ChromaWidth * ChromaHeight;

    public int FrameBytes => (int)(LumaBytes + (2 * ChromaBytes));
}
