using SkiaSharp;

namespace GEdge.Rendering;

/// <summary>
/// How a video turns R'G'B' into Y'CbCr: the luma weights of its colour matrix and whether it uses the full 0-255 range.
/// The annotated video is drawn on the decoded Y, Cb and Cr planes directly, so each colour is converted here, exactly as
/// an encoder converting that colour from RGB would.
/// </summary>
internal sealed class YuvMatrix
{
    // Y = offset + R*r + G*g + B*b (and the same for Cb, Cr), with R, G, B in 0-255: one multiply-add chain per sample.
    private readonly float _yR, _yG, _yB, _yOffset;
    private readonly float _cbR, _cbG, _cbB;
    private readonly float _crR, _crG, _crB;

    /// <summary>Creates the matrix with luma weights Kr and Kb (Kg = 1 - Kr - Kb).</summary>
    public YuvMatrix(double redWeight, double blueWeight, bool fullRange)
    {
        RedWeight = redWeight;
        BlueWeight = blueWeight;
        FullRange = fullRange;
        var greenWeight = 1 - redWeight - blueWeight;
        var lumaScale = (fullRange ? 255.0 : 219.0) / 255;
        var chromaScale = (fullRange ? 255.0 : 224.0) / 255;
        (_yR, _yG, _yB) = ((float)(lumaScale * redWeight), (float)(lumaScale * greenWeight), (float)(lumaScale * blueWeight));
        _yOffset = fullRange ? 0 : 16;

        // Cb = (B' - Y') / (2 (1 - Kb)), Cr = (R' - Y') / (2 (1 - Kr)), centred on 128.
        var cb = chromaScale / (2 * (1 - blueWeight));
        var cr = chromaScale / (2 * (1 - redWeight));
        (_cbR, _cbG, _cbB) = ((float)(-cb * redWeight), (float)(-cb * greenWeight), (float)(cb * (1 - blueWeight)));
        (_crR, _crG, _crB) = ((float)(cr * (1 - redWeight)), (float)(-cr * greenWeight), (float)(-cr * blueWeight));
    }

    /// <summary>ITU-R BT.601 (SD video, JPEG), limited range.</summary>
    public static YuvMatrix Bt601 { get; } = new(0.299, 0.114, fullRange: false);

    /// <summary>ITU-R BT.709 (HD video), limited range.</summary>
    public static YuvMatrix Bt709 { get; } = new(0.2126, 0.0722, fullRange: false);

    /// <summary>Kr, the red weight of luma.</summary>
    public double RedWeight { get; }

    /// <summary>Kb, the blue weight of luma.</summary>
    public double BlueWeight { get; }

    /// <summary>Whether Y spans 0-255 (JPEG-style) rather than 16-235.</summary>
    public bool FullRange { get; }

    /// <summary>The matrix a video's tags name; untagged video gets what players assume: BT.709 from 720 lines up, else BT.601.</summary>
    public static YuvMatrix For(ColorTags tags, int height)
    {
        var (red, blue) = tags.Space switch
        {
            "bt709" => (0.2126, 0.0722),
            "smpte170m" or "bt470bg" => (0.299, 0.114),
            "bt2020nc" or "bt2020c" => (0.2627, 0.0593),
            "smpte240m" => (0.212, 0.087),
            "fcc" => (0.30, 0.11),
            _ => height >= 720 ? (0.2126, 0.0722) : (0.299, 0.114),
        };
        return new YuvMatrix(red, blue, tags.Range == "pc");
    }

    /// <summary>The 8-bit Y, Cb and Cr of an sRGB colour.</summary>
    public (byte Y, byte Cb, byte Cr) ToYuv(SKColor color) => ToYuv(color.Red, color.Green, color.Blue);

    /// <summary>The 8-bit Y, Cb and Cr of 8-bit R, G and B.</summary>
    public (byte Y, byte Cb, byte Cr) ToYuv(byte red, byte green, byte blue) =>
        (Luma(red, green, blue), BlueDifference(red, green, blue), RedDifference(red, green, blue));

    /// <summary>Y of 8-bit R, G and B.</summary>
    public byte Luma(byte red, byte green, byte blue) => ToByte(_yOffset + (_yR * red) + (_yG * green) + (_yB * blue));

    /// <summary>Cb of 8-bit R, G and B.</summary>
    public byte BlueDifference(byte red, byte green, byte blue) => ToByte(128 + (_cbR * red) + (_cbG * green) + (_cbB * blue));

    /// <summary>Cr of 8-bit R, G and B.</summary>
    public byte RedDifference(byte red, byte green, byte blue) => ToByte(128 + (_crR * red) + (_crG * green) + (_crB * blue));

    /// <summary>The sum of Cb over <paramref name="count"/> pixels whose R, G and B add up to the given sums (unrounded).</summary>
    public float BlueDifferenceOfSum(int red, int green, int blue, int count) => (128f * count) + (_cbR * red) + (_cbG * green) + (_cbB * blue);

    /// <summary>The sum of Cr over <paramref name="count"/> pixels whose R, G and B add up to the given sums (unrounded).</summary>
    public float RedDifferenceOfSum(int red, int green, int blue, int count) => (128f * count) + (_crR * red) + (_crG * green) + (_crB * blue);

    private static byte ToByte(float value) => (byte)Math.Clamp((int)(value + 0.5f), 0, 255);
}
