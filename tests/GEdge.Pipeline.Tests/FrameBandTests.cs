using GEdge.Artifacts;
using GEdge.Vision;

namespace GEdge.Pipeline.Tests;

public sealed class FrameBandTests
{
    [Fact]
    public void Of_ALandscapeFramePastedTopLeft_KeepsTheRowsTheScaledPictureCovers()
    {
        var band = FrameBand.Of(LetterboxTransform.Create(960, 540, 416, 416, LetterboxPlacement.TopLeft));

        Assert.Equal(new FrameBand(0, 234, 416 * 3), band);
        Assert.Equal(234 * 416 * 3, band.Bytes);
        Assert.Equal(0, band.Offset);
    }

    [Fact]
    public void Of_ACentredLandscapeFrame_StartsBelowTheTopPadding()
    {
        var band = FrameBand.Of(LetterboxTransform.Create(1280, 720, 416, 416, LetterboxPlacement.Center));

        Assert.Equal(new FrameBand(91, 234, 416 * 3), band);
        Assert.Equal(91 * 416 * 3, band.Offset);
    }

    [Fact]
    public void Of_APortraitFrame_IsTheWholeInput_SinceEveryRowHoldsPicture()
    {
        var band = FrameBand.Of(LetterboxTransform.Create(540, 960, 416, 416, LetterboxPlacement.TopLeft));

        Assert.Equal(new FrameBand(0, 416, 416 * 3), band);
    }
}
