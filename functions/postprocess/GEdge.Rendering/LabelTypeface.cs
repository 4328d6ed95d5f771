using SkiaSharp;

namespace GEdge.Rendering;

/// <summary>The typeface detection labels are set in: DejaVu Sans Bold, embedded in this assembly.</summary>
/// <remarks>
/// SkiaSharp.NativeAssets.Linux.NoDependencies is built without fontconfig, so <see cref="SKTypeface.Default"/> finds no
/// font there and draws nothing; a container image need not carry any fonts either. Loading the file explicitly makes
/// labels look the same on every machine.
/// </remarks>
public static class LabelTypeface
{
    private const string ResourceName = "GEdge.Rendering.Fonts.DejaVuSans-Bold.ttf";

    private static readonly Lazy<SKTypeface> s_typeface = new(Load);

    /// <summary>The process-wide typeface (immutable, shared by every painter; never disposed).</summary>
    public static SKTypeface Instance => s_typeface.Value;

    private static SKTypeface Load()
    {
        using var stream = typeof(LabelTypeface).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The label font resource {ResourceName} is missing from {typeof(LabelTypeface).Assembly.GetName().Name}.");
        using var data = SKData.Create(stream);
        return SKTypeface.FromData(data)
            ?? throw new InvalidOperationException($"Skia could not read the embedded label font {ResourceName}.");
    }
}
