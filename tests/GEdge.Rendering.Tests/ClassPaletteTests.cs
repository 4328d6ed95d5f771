using SkiaSharp;

namespace GEdge.Rendering.Tests;

public sealed class ClassPaletteTests
{
    [Fact]
    public void ColorOf_SameClass_ReturnsTheSameColourEveryTime()
    {
        for (var classId = 0; classId < 200; classId++)
        {
            Assert.Equal(ClassPalette.ColorOf(classId), ClassPalette.ColorOf(classId));
        }
    }

    [Fact]
    public void ColorOf_TheEightyCocoClasses_AreAllDifferent()
    {
        var colours = new HashSet<SKColor>();
        for (var classId = 0; classId < 80; classId++)
        {
            Assert.True(colours.Add(ClassPalette.ColorOf(classId)), $"class {classId} repeats an earlier class's colour {ClassPalette.ColorOf(classId)}");
        }
    }

    [Fact]
    public void ColorOf_NeighbouringClasses_AreFarApart()
    {
        for (var classId = 0; classId < 80; classId++)
        {
            var a = ClassPalette.ColorOf(classId);
            var b = ClassPalette.ColorOf(classId + 1);
            var distance = Math.Abs(a.Red - b.Red) + Math.Abs(a.Green - b.Green) + Math.Abs(a.Blue - b.Blue);
            Assert.True(distance >= 120, $"classes {classId} and {classId + 1} are only {distance} apart: {a} vs {b}");
        }
    }

    [Fact]
    public void ColorOf_IsOpaque()
    {
        Assert.Equal(255, ClassPalette.ColorOf(0).Alpha);
        Assert.Equal(255, ClassPalette.ColorOf(79).Alpha);
    }

    [Fact]
    public void ColorOf_NegativeClass_IsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ClassPalette.ColorOf(-1));
    }

    [Theory]
    [InlineData(255, 255, 0, 0x00)] // yellow: black text
    [InlineData(255, 255, 255, 0x00)] // white: black text
    [InlineData(0, 0, 139, 0xFF)] // dark blue: white text
    [InlineData(0, 0, 0, 0xFF)] // black: white text
    [InlineData(255, 0, 0, 0x00)] // pure red (luminance 0.21): black contrasts 5.3:1, white only 4:1
    [InlineData(139, 0, 0, 0xFF)] // dark red: white text
    public void TextColorOn_PicksTheColourWithMoreContrast(byte red, byte green, byte blue, byte expectedGrey)
    {
        Assert.Equal(new SKColor(expectedGrey, expectedGrey, expectedGrey), ClassPalette.TextColorOn(new SKColor(red, green, blue)));
    }

    [Fact]
    public void TextColorOn_EveryClassColour_ContrastsAtLeastFourAndAHalfToOne()
    {
        // WCAG AA for normal text: the labels stay readable on every class's tag.
        for (var classId = 0; classId < 80; classId++)
        {
            var background = ClassPalette.ColorOf(classId);
            var text = ClassPalette.TextColorOn(background);
            var lighter = Math.Max(Luminance(background), Luminance(text));
            var darker = Math.Min(Luminance(background), Luminance(text));
            var contrast = (lighter + 0.05) / (darker + 0.05);
            Assert.True(contrast >= 4.5, $"class {classId}: {text} on {background} has contrast {contrast:F2}");
        }
    }

    private static double Luminance(SKColor color)
    {
        static double Linear(byte channel)
        {
            var c = channel / 255.0;
            return c <= 0.04045 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4);
        }

        return (0.2126 * Linear(color.Red)) + (0.7152 * Linear(color.Green)) + (0.0722 * Linear(color.Blue));
    }
}
