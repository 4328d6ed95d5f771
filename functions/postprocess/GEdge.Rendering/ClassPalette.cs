using SkiaSharp;

namespace GEdge.Rendering;

/// <summary>The colour each detection class is drawn in, and the text colour that reads on it.</summary>
public static class ClassPalette
{
    // 1/phi: stepping the hue by the golden ratio puts every class far (about 137.5 degrees) from its neighbours and
    // never repeats, so classes 0, 1, 2 ... look different and any class id, however large, gets a colour of its own.
    private const double GoldenRatioConjugate = 0.6180339887498949;

    // A fixed start keeps class 0 (COCO "person", the most common box) a clear orange rather than pure red.
    private const double FirstHue = 0.07;

    /// <summary>The colour of a class: the same for the same id in every frame, every video and every process.</summary>
    public static SKColor ColorOf(int classId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(classId);
        var hue = (FirstHue + (classId * GoldenRatioConjugate)) % 1.0;

        // Alternating saturation and brightness in a cycle of three separates classes whose hues land close together.
        var (saturation, value) = (classId % 3) switch
        {
            0 => (0.90, 1.00),
            1 => (0.75, 0.85),
            _ => (1.00, 0.70),
        };
        return FromHsv(hue, saturation, value);
    }

    /// <summary>Black or white, whichever contrasts more with <paramref name="background"/> (WCAG relative luminance).</summary>
    public static SKColor TextColorOn(SKColor background)
    {
        var luminance = (0.2126 * Linear(background.Red)) + (0.7152 * Linear(background.Green)) + (0.0722 * Linear(background.Blue));

        // Contrast with black is (L + 0.05) / 0.05, with white 1.05 / (L + 0.05); they are equal at L = 0.179.
        return luminance > 0.179 ? SKColors.Black : SKColors.White;
    }

    private static double Linear(byte channel)
    {
        var c = channel / 255.0;
        return c <= 0.04045 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4);
    }

    private static SKColor FromHsv(double hue, double saturation, double value)
    {
        var sector = hue * 6;
        var index = (int)sector % 6;
        var fraction = sector - Math.Floor(sector);
        var p = value * (1 - saturation);
        var q = value * (1 - (saturation * fraction));
        var t = value * (1 - (saturation * (1 - fraction)));
        var (r, g, b) = index switch
        {
            0 => (value, t, p),
            1 => (q, value, p),
            2 => (p, value, t),
            3 => (p, q, value),
            4 => (t, p, value),
            _ => (value, p, q),
        };
        return new SKColor(ToByte(r), ToByte(g), ToByte(b));
    }

    private static byte ToByte(double channel) => (byte)Math.Round(channel * 255);
}
