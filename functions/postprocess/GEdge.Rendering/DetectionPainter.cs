using System.Globalization;
using GEdge.Vision;
using SkiaSharp;

namespace GEdge.Rendering;

/// <summary>
/// Draws detections onto frames of one size: a box in the class's colour and a "label 0.87" tag on a filled background,
/// on an RGB canvas or straight onto a video frame's Y, Cb and Cr planes. One painter serves one video: it caches its
/// paints and the text of every label and score it has drawn, so painting a frame allocates nothing. Not thread-safe.
/// </summary>
public sealed class DetectionPainter : IDisposable
{
    // Scores print with two decimals, so 101 texts (0.00 ... 1.00) cover every score there is.
    private const int ScoreSteps = 101;

    private readonly SKFont _font;
    private readonly SKPaint _fill = new() { Style = SKPaintStyle.Fill, IsAntialias = false };
    private readonly SKPaint _text = new() { Style = SKPaintStyle.Fill, IsAntialias = true };
    private readonly Dictionary<int, LabelText> _labels = [];
    private readonly TextRun?[] _scores = new TextRun?[ScoreSteps];
    private readonly float _ascent;
    private readonly int _tagHeight;
    private readonly int _padding;
    private TagScratch? _scratch;
    private bool _disposed;

    /// <summary>Creates a painter for frames of the given size; line width and text size scale with it.</summary>
    public DetectionPainter(int frameWidth, int frameHeight)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frameWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frameHeight);
        FrameWidth = frameWidth;
        FrameHeight = frameHeight;

        // Scaled to the shorter side so a portrait video gets the same weight as a landscape one: 2 px up to 540p,
        // 3 px at 720p, 4-5 px at 1080p, 9 px at 4K. Two pixels is the least that survives 4:2:0 chroma subsampling.
        var shortSide = Math.Min(frameWidth, frameHeight);
        LineWidth = Math.Max(2, (int)Math.Round(shortSide / 240.0));
        FontSize = Math.Max(12f, shortSide * 0.028f);

        _font = new SKFont(LabelTypeface.Instance, FontSize)
        {
            // Grey-scale anti-aliasing: sub-pixel (LCD) text assumes a screen's stripe order and fringes in a video.
            Edging = SKFontEdging.Antialias,
            Subpixel = true,
        };
        _font.GetFontMetrics(out var metrics);
        _ascent = metrics.Ascent;
        _padding = Math.Max(2, (int)Math.Round(FontSize * 0.2f));
        _tagHeight = (int)Math.Ceiling(metrics.Descent - metrics.Ascent) + _padding;
    }

    /// <summary>Width of the frames this painter draws on, in pixels.</summary>
    public int FrameWidth { get; }

    /// <summary>Height of the frames this painter draws on, in pixels.</summary>
    public int FrameHeight { get; }

    /// <summary>Thickness of box outlines in pixels; the outline lies inside the box.</summary>
    public int LineWidth { get; }

    /// <summary>Size of the label text in pixels.</summary>
    public float FontSize { get; }

    /// <summary>Height of a label tag in pixels.</summary>
    public int TagHeight => _tagHeight;

    /// <summary>Draws <paramref name="detections"/> (boxes in frame pixels) onto an RGB canvas over one frame.</summary>
    public void Paint(SKCanvas canvas, IReadOnlyList<Detection> detections)
    {
        ArgumentNullException.ThrowIfNull(canvas);
        ArgumentNullException.ThrowIfNull(detections);
        ObjectDisposedException.ThrowIf(_disposed, this);

        // Boxes first, tags after, so no box outline crosses another detection's text.
        for (var i = 0; i < detections.Count; i++)
        {
            if (TryPixelBox(detections[i].Box, out var box))
            {
                _fill.Color = ClassPalette.ColorOf(detections[i].ClassId);
                for (var side = 0; side < 4; side++)
                {
                    if (OutlineSide(box, side) is { IsEmpty: false } band)
                    {
                        canvas.DrawRect(band, _fill);
                    }
                }
            }
        }

        for (var i = 0; i < detections.Count; i++)
        {
            var detection = detections[i];
            if (TryPixelBox(detection.Box, out var box))
            {
                var tag = TagArea(box, detection, out var label, out var score);
                DrawTag(canvas, tag.Left, tag.Top, tag.Width, detection.ClassId, label, score);
            }
        }
    }

    /// <summary>
    /// Draws <paramref name="detections"/> onto a raw planar Y'CbCr frame, each colour converted with the video's own
    /// <paramref name="matrix"/>: the picture drawing in RGB and converting would give, without converting (or touching)
    /// any sample that is not under a box outline or a tag.
    /// </summary>
    internal void Paint(Span<byte> frame, FrameLayout layout, YuvMatrix matrix, IReadOnlyList<Detection> detections)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentNullException.ThrowIfNull(detections);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (layout.Width != FrameWidth || layout.Height != FrameHeight)
        {
            throw new ArgumentException($"This painter draws {FrameWidth}x{FrameHeight} frames, not {layout.Width}x{layout.Height}.", nameof(layout));
        }

        var planes = new YuvPlanes(frame, layout);
        for (var i = 0; i < detections.Count; i++)
        {
            if (TryPixelBox(detections[i].Box, out var box))
            {
                var color = matrix.ToYuv(ClassPalette.ColorOf(detections[i].ClassId));
                for (var side = 0; side < 4; side++)
                {
                    if (OutlineSide(box, side) is { IsEmpty: false } band)
                    {
                        planes.Fill(band, color);
                    }
                }
            }
        }

        // Each tag is rendered by Skia into a small BGRA strip, then converted into the planes.
        _scratch ??= new TagScratch(FrameWidth, _tagHeight);
        for (var i = 0; i < detections.Count; i++)
        {
            var detection = detections[i];
            if (TryPixelBox(detection.Box, out var box))
            {
                var tag = TagArea(box, detection, out var label, out var score);
                DrawTag(_scratch.Canvas, 0, 0, tag.Width, detection.ClassId, label, score);
                planes.Draw(_scratch.Pixels, _scratch.Stride, tag, matrix);
            }
        }
    }

    /// <summary>Releases the cached paints and text.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var label in _labels.Values)
        {
            label.Run.Blob.Dispose();
        }

        foreach (var score in _scores)
        {
            score?.Blob.Dispose();
        }

        _scratch?.Dispose();
        _font.Dispose();
        _fill.Dispose();
        _text.Dispose();
    }

    // Boxes snap to whole pixels: a crisp outline with no half-covered, blended edge pixels.
    private bool TryPixelBox(in BoundingBox box, out SKRectI pixels)
    {
        var clipped = box.ClipTo(FrameWidth, FrameHeight);
        pixels = new SKRectI(
            (int)MathF.Round(clipped.X),
            (int)MathF.Round(clipped.Y),
            (int)MathF.Round(clipped.Right),
            (int)MathF.Round(clipped.Bottom));
        return pixels.Width > 0 && pixels.Height > 0;
    }

    // The outline is four bands inside the box rather than a stroke centred on its edge: it never leaves the box or the
    // frame, and the box's own edge pixels are exactly the class colour. A box too small for a hollow is filled.
    private SKRectI OutlineSide(SKRectI box, int side)
    {
        var line = LineWidth;
        if (box.Width <= 2 * line || box.Height <= 2 * line)
        {
            return side == 0 ? box : SKRectI.Empty;
        }

        return side switch
        {
            0 => new SKRectI(box.Left, box.Top, box.Right, box.Top + line),
            1 => new SKRectI(box.Left, box.Bottom - line, box.Right, box.Bottom),
            2 => new SKRectI(box.Left, box.Top + line, box.Left + line, box.Bottom - line),
            _ => new SKRectI(box.Right - line, box.Top + line, box.Right, box.Bottom - line),
        };
    }

    // Above the box where there is room, else just inside its top edge; never past the frame's sides or bottom.
    private SKRectI TagArea(SKRectI box, Detection detection, out TextRun label, out TextRun score)
    {
        label = LabelRun(detection.ClassId, detection.Label);
        score = ScoreRun(detection.Score);
        var width = Math.Min(FrameWidth, (int)Math.Ceiling(label.Width + score.Width) + (2 * _padding));
        var top = box.Top - _tagHeight >= 0 ? box.Top - _tagHeight : box.Top;
        var left = Math.Max(0, Math.Min(box.Left, FrameWidth - width));
        return new SKRectI(left, top, left + width, Math.Min(FrameHeight, top + _tagHeight));
    }

    private void DrawTag(SKCanvas canvas, int left, int top, int width, int classId, TextRun label, TextRun score)
    {
        var color = ClassPalette.ColorOf(classId);
        _fill.Color = color;
        canvas.DrawRect(left, top, width, _tagHeight, _fill);

        _text.Color = ClassPalette.TextColorOn(color);
        var baseline = top + (_padding / 2f) - _ascent;
        canvas.DrawText(label.Blob, left + _padding, baseline, _text);
        canvas.DrawText(score.Blob, left + _padding + label.Width, baseline, _text);
    }

    private TextRun LabelRun(int classId, string label)
    {
        if (_labels.TryGetValue(classId, out var cached) && string.Equals(cached.Label, label, StringComparison.Ordinal))
        {
            return cached.Run;
        }

        cached?.Run.Blob.Dispose();

        // The trailing space separates label and score, so the two cached runs draw side by side as one text.
        var run = Shape(string.IsNullOrEmpty(label) ? $"class {classId} " : label + " ");
        _labels[classId] = new LabelText(label, run);
        return run;
    }

    private TextRun ScoreRun(float score)
    {
        var step = float.IsNaN(score) ? 0 : (int)MathF.Round(Math.Clamp(score, 0f, 1f) * (ScoreSteps - 1));
        return _scores[step] ??= Shape((step / (ScoreSteps - 1.0)).ToString("0.00", CultureInfo.InvariantCulture));
    }

    private TextRun Shape(string text)
    {
        var blob = SKTextBlob.Create(text, _font)
            ?? throw new InvalidOperationException($"The label font has no glyphs to draw \"{text}\".");
        return new TextRun(blob, _font.MeasureText(text));
    }

    private sealed record TextRun(SKTextBlob Blob, float Width);

    private sealed record LabelText(string Label, TextRun Run);

    /// <summary>A frame-wide, tag-high BGRA strip that tags are rendered into before they are converted to Y'CbCr.</summary>
    private sealed class TagScratch : IDisposable
    {
        private readonly SKBitmap _bitmap;

        public TagScratch(int width, int height)
        {
            _bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Bgra8888, SKAlphaType.Opaque));
            Canvas = new SKCanvas(_bitmap);
        }

        public SKCanvas Canvas { get; }

        public ReadOnlySpan<byte> Pixels => _bitmap.GetPixelSpan();

        public int Stride => _bitmap.RowBytes;

        public void Dispose()
        {
            Canvas.Dispose();
            _bitmap.Dispose();
        }
    }
}
