using System.Text.Json.Serialization;

namespace GEdge.Vision;

/// <summary>Where a letterboxed image sits inside the model input.</summary>
public enum LetterboxPlacement
{
    /// <summary>Pasted at the top-left corner, padding right and bottom (YOLOX).</summary>
    TopLeft,

    /// <summary>Centred, padding split on both sides (the model-zoo YOLOv4).</summary>
    Center,
}

/// <summary>
/// How a source frame was fitted into the model input: resized keeping its aspect ratio to
/// <see cref="ScaledWidth"/> x <see cref="ScaledHeight"/> and placed at (<see cref="PadLeft"/>, <see cref="PadTop"/>).
/// The preprocess stage hands exactly these integers to ffmpeg's scale and pad filters, so the mapping back is exact.
/// </summary>
public sealed record LetterboxTransform(
    int SourceWidth,
    int SourceHeight,
    int InputWidth,
    int InputHeight,
    int ScaledWidth,
    int ScaledHeight,
    int PadLeft,
    int PadTop)
{
    /// <summary>Computes the transform that fits a source frame into a model input.</summary>
    public static LetterboxTransform Create(int sourceWidth, int sourceHeight, int inputWidth, int inputHeight, LetterboxPlacement placement)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputHeight);

        var scale = Math.Min((double)inputWidth / sourceWidth, (double)inputHeight / sourceHeight);
        var scaledWidth = Math.Clamp((int)Math.Round(sourceWidth * scale), 1, inputWidth);
        var scaledHeight = Math.Clamp((int)Math.Round(sourceHeight * scale), 1, inputHeight);
        var (padLeft, padTop) = placement switch
        {
            LetterboxPlacement.TopLeft => (0, 0),
            LetterboxPlacement.Center => ((inputWidth - scaledWidth) / 2, (inputHeight - scaledHeight) / 2),
            _ => throw new ArgumentOutOfRangeException(nameof(placement), placement, "Unknown letterbox placement."),
        };
        return new LetterboxTransform(sourceWidth, sourceHeight, inputWidth, inputHeight, scaledWidth, scaledHeight, padLeft, padTop);
    }

    /// <summary>Horizontal scale from source pixels to input pixels.</summary>
    [JsonIgnore]
    public float ScaleX => (float)ScaledWidth / SourceWidth;

    /// <summary>Vertical scale from source pixels to input pixels.</summary>
    [JsonIgnore]
    public float ScaleY => (float)ScaledHeight / SourceHeight;

    /// <summary>Maps a box in model-input pixels back to source pixels, clipped to the source frame.</summary>
    public BoundingBox ToSource(in BoundingBox inputBox)
    {
        var left = (inputBox.X - PadLeft) / ScaleX;
        var top = (inputBox.Y - PadTop) / ScaleY;
        var right = (inputBox.Right - PadLeft) / ScaleX;
        var bottom = (inputBox.Bottom - PadTop) / ScaleY;
        return BoundingBox.FromCorners(left, top, right, bottom).ClipTo(SourceWidth, SourceHeight);
    }

    /// <summary>Maps a box in source pixels into model-input pixels.</summary>
    public BoundingBox ToInput(in BoundingBox sourceBox) =>
        new((sourceBox.X * ScaleX) + PadLeft, (sourceBox.Y * ScaleY) + PadTop, sourceBox.Width * ScaleX, sourceBox.Height * ScaleY);
}
