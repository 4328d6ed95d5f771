using System.Text.Json.Serialization;

namespace GEdge.Vision;

/// <summary>An axis-aligned box in pixels: <see cref="X"/>/<see cref="Y"/> is the top-left corner.</summary>
public readonly record struct BoundingBox(float X, float Y, float Width, float Height)
{
    /// <summary>The right edge (X + Width).</summary>
    [JsonIgnore]
    public float Right => X + Width;

    /// <summary>The bottom edge (Y + Height).</summary>
    [JsonIgnore]
    public float Bottom => Y + Height;

    /// <summary>The box's area; zero for an empty or inverted box.</summary>
    [JsonIgnore]
    public float Area => Width > 0 && Height > 0 ? Width * Height : 0;

    /// <summary>Builds a box from its corners.</summary>
    public static BoundingBox FromCorners(float left, float top, float right, float bottom) =>
        new(left, top, right - left, bottom - top);

    /// <summary>Builds a box from its centre and size, as YOLO heads emit them.</summary>
    public static BoundingBox FromCenter(float centerX, float centerY, float width, float height) =>
        new(centerX - (width / 2), centerY - (height / 2), width, height);

    /// <summary>Intersection over union with another box; 0 when they do not overlap.</summary>
    public float IntersectionOverUnion(in BoundingBox other)
    {
        var left = Math.Max(X, other.X);
        var top = Math.Max(Y, other.Y);
        var right = Math.Min(Right, other.Right);
        var bottom = Math.Min(Bottom, other.Bottom);
        if (right <= left || bottom <= top)
        {
            return 0;
        }

        var intersection = (right - left) * (bottom - top);
        return intersection / (Area + other.Area - intersection);
    }

    /// <summary>The part of the box inside a width x height image (empty when it lies outside).</summary>
    public BoundingBox ClipTo(int width, int height)
    {
        var left = Math.Clamp(X, 0, width);
        var top = Math.Clamp(Y, 0, height);
        var right = Math.Clamp(Right, 0, width);
        var bottom = Math.Clamp(Bottom, 0, height);
        return FromCorners(left, top, Math.Max(left, right), Math.Max(top, bottom));
    }
}

/// <summary>One object found in a frame: its class, confidence and box in original-frame pixels.</summary>
/// <remarks>
/// Serialized as <c>{ "label", "classId", "score", "box": { "x", "y", "width", "height" } }</c>, the one JSON shape of a
/// detection everywhere (<c>gedge detect --json</c>, <c>detections.json</c>).
/// </remarks>
public sealed record Detection(
    [property: JsonPropertyOrder(1)] int ClassId,
    [property: JsonPropertyOrder(0)] string Label,
    [property: JsonPropertyOrder(2)] float Score,
    [property: JsonPropertyOrder(3)] BoundingBox Box)
{
    /// <summary>
    /// The detection as it is published: box edges to a tenth of a pixel and the score to four decimals, finer than
    /// the detector's accuracy, so the JSON of a long video stays compact.
    /// </summary>
    public Detection ForPublishing() => this with
    {
        Score = MathF.Round(Score, 4),
        Box = new BoundingBox(MathF.Round(Box.X, 1), MathF.Round(Box.Y, 1), MathF.Round(Box.Width, 1), MathF.Round(Box.Height, 1)),
    };

    /// <summary>Every detection of a frame <see cref="ForPublishing()">as it is published</see>.</summary>
    public static Detection[] ForPublishing(IReadOnlyList<Detection> detections)
    {
        ArgumentNullException.ThrowIfNull(detections);
        var published = new Detection[detections.Count];
        for (var i = 0; i < published.Length; i++)
        {
            published[i] = detections[i].ForPublishing();
        }

        return published;
    }
}
