namespace GEdge.Vision.Tests;

public sealed class LetterboxTransformTests
{
    [Fact]
    public void Create_ForLandscapeTopLeft_FillsWidthAndPadsBelow()
    {
        var letterbox = LetterboxTransform.Create(1280, 720, 416, 416, LetterboxPlacement.TopLeft);

        Assert.Equal(new LetterboxTransform(1280, 720, 416, 416, 416, 234, 0, 0), letterbox);
    }

    [Fact]
    public void Create_ForPortraitCentered_FillsHeightAndSplitsPaddingLeftAndRight()
    {
        var letterbox = LetterboxTransform.Create(720, 1280, 416, 416, LetterboxPlacement.Center);

        Assert.Equal(new LetterboxTransform(720, 1280, 416, 416, 234, 416, 91, 0), letterbox);
    }

    [Fact]
    public void Create_ForOddSizeCentered_RoundsScaledSizeAndPutsOddPixelOfPaddingAfter()
    {
        // 641x479: scale = 416/641 = 0.64898..., 479 x that = 310.86 -> 311 rows, 105 rows of padding: 52 above, 53 below.
        var letterbox = LetterboxTransform.Create(641, 479, 416, 416, LetterboxPlacement.Center);

        Assert.Equal(new LetterboxTransform(641, 479, 416, 416, 416, 311, 0, 52), letterbox);
    }

    [Fact]
    public void Create_ForSquareSource_NeedsNoPadding()
    {
        var letterbox = LetterboxTransform.Create(1000, 1000, 416, 416, LetterboxPlacement.Center);

        Assert.Equal(new LetterboxTransform(1000, 1000, 416, 416, 416, 416, 0, 0), letterbox);
    }

    [Fact]
    public void Create_ForSourceSmallerThanInput_ScalesUp()
    {
        var letterbox = LetterboxTransform.Create(208, 104, 416, 416, LetterboxPlacement.Center);

        Assert.Equal(new LetterboxTransform(208, 104, 416, 416, 416, 208, 0, 104), letterbox);
    }

    [Theory]
    [InlineData(0, 720)]
    [InlineData(1280, -1)]
    public void Create_ForEmptySource_Throws(int width, int height) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => LetterboxTransform.Create(width, height, 416, 416, LetterboxPlacement.TopLeft));

    [Fact]
    public void ToInput_ForLandscapeCentered_ScalesAndShiftsDown()
    {
        var letterbox = LetterboxTransform.Create(1280, 720, 416, 416, LetterboxPlacement.Center);

        var input = letterbox.ToInput(new BoundingBox(640, 360, 128, 72));

        // scale 416/1280 = 0.325 on both axes; 91 rows of padding above.
        AssertClose(new BoundingBox(208, 117 + 91, 41.6f, 23.4f), input);
    }

    [Fact]
    public void ToSource_ForBoxInCenteredInput_RemovesPaddingAndUndoesScale()
    {
        var letterbox = LetterboxTransform.Create(720, 1280, 416, 416, LetterboxPlacement.Center);

        var source = letterbox.ToSource(new BoundingBox(91 + 117, 208, 23.4f, 41.6f));

        AssertClose(new BoundingBox(360, 640, 72, 128), source);
    }

    [Theory]
    [InlineData(1280, 720, LetterboxPlacement.TopLeft)]
    [InlineData(1280, 720, LetterboxPlacement.Center)]
    [InlineData(720, 1280, LetterboxPlacement.Center)]
    [InlineData(641, 479, LetterboxPlacement.Center)]
    [InlineData(479, 641, LetterboxPlacement.TopLeft)]
    [InlineData(100, 1000, LetterboxPlacement.Center)]
    public void ToSource_OfToInput_GivesBackTheSourceBox(int width, int height, LetterboxPlacement placement)
    {
        var letterbox = LetterboxTransform.Create(width, height, 416, 416, placement);
        var box = new BoundingBox(width * 0.1f, height * 0.2f, width * 0.5f, height * 0.6f);

        var roundTrip = letterbox.ToSource(letterbox.ToInput(box));

        AssertClose(box, roundTrip);
    }

    [Fact]
    public void ToSource_ForBoxReachingIntoPadding_ClipsToSourceFrame()
    {
        var letterbox = LetterboxTransform.Create(1280, 720, 416, 416, LetterboxPlacement.Center);

        // From the top padding (y 50 < 91) to below the picture (y 350 > 91 + 234).
        var source = letterbox.ToSource(BoundingBox.FromCorners(-10, 50, 100, 350));

        AssertClose(BoundingBox.FromCorners(0, 0, 100 / 0.325f, 720), source);
    }

    [Fact]
    public void ToSource_ForBoxWhollyInPadding_IsEmpty()
    {
        var letterbox = LetterboxTransform.Create(1280, 720, 416, 416, LetterboxPlacement.TopLeft);

        var source = letterbox.ToSource(BoundingBox.FromCorners(10, 300, 60, 400));

        Assert.Equal(0, source.Area);
    }

    private static void AssertClose(BoundingBox expected, BoundingBox actual)
    {
        const float Tolerance = 1e-3f;
        Assert.True(
            Math.Abs(expected.X - actual.X) < Tolerance && Math.Abs(expected.Y - actual.Y) < Tolerance
            && Math.Abs(expected.Width - actual.Width) < Tolerance && Math.Abs(expected.Height - actual.Height) < Tolerance,
            $"Expected {expected}, got {actual}.");
    }
}
