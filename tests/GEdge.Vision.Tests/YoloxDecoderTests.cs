namespace GEdge.Vision.Tests;

public sealed class YoloxDecoderTests
{
    private const int Classes = 80;
    private const int RowLength = 5 + Classes;
    private const int Dog = 16;
    private const int Person = 0;

    private static readonly YoloxDecoder s_decoder = new(416, 416, [8, 16, 32], Classes);

    [Fact]
    public void CellCount_For416Input_Is3549() => Assert.Equal(3549, s_decoder.CellCount);

    [Fact]
    public void Decode_ForOneConfidentCell_GivesItsBoxInInputPixels()
    {
        var output = new float[s_decoder.OutputLength(0)];

        // Stride 16 (cells after the 52x52 stride-8 grid), cell gx 10, gy 5: centre ((0.5 + 10) x 16, (0.25 + 5) x 16) = (168, 84),
        // size (e^ln4 x 16, e^ln2 x 16) = (64, 32), score 0.9 x 0.8 = 0.72.
        SetCell(output, (52 * 52) + (5 * 26) + 10, 0.5f, 0.25f, MathF.Log(4), MathF.Log(2), objectness: 0.9f, Dog, 0.8f);
        var candidates = new List<DetectionCandidate>();

        s_decoder.Decode(0, output, 0.3f, candidates);

        var candidate = Assert.Single(candidates);
        Assert.Equal(Dog, candidate.ClassId);
        Assert.Equal(0.9f * 0.8f, candidate.Score);
        AssertClose(BoundingBox.FromCenter(168, 84, 64, 32), candidate.Box);
    }

    [Fact]
    public void Decode_ForCellOnStride32Grid_UsesThatGridsOrigin()
    {
        var output = new float[s_decoder.OutputLength(0)];

        // Last cell of all: stride 32, gx 12, gy 12 -> centre ((0 + 12) x 32, (0 + 12) x 32).
        SetCell(output, 3548, 0, 0, 0, 0, objectness: 1f, Person, 1f);
        var candidates = new List<DetectionCandidate>();

        s_decoder.Decode(0, output, 0.3f, candidates);

        AssertClose(BoundingBox.FromCenter(384, 384, 32, 32), Assert.Single(candidates).Box);
    }

    [Fact]
    public void Decode_TakesTheBestClassOfACell()
    {
        var output = new float[s_decoder.OutputLength(0)];
        SetCell(output, 0, 0.5f, 0.5f, 0, 0, objectness: 0.9f, Person, 0.5f);
        output[5 + Dog] = 0.6f;
        var candidates = new List<DetectionCandidate>();

        s_decoder.Decode(0, output, 0.3f, candidates);

        Assert.Equal(Dog, Assert.Single(candidates).ClassId);
    }

    [Fact]
    public void Decode_KeepsScoresAtTheThresholdAndDropsThoseBelow()
    {
        var output = new float[s_decoder.OutputLength(0)];
        SetCell(output, 0, 0.5f, 0.5f, 0, 0, objectness: 0.5f, Person, 0.6f);   // 0.3: at the threshold
        SetCell(output, 1, 0.5f, 0.5f, 0, 0, objectness: 0.5f, Person, 0.58f);  // 0.29: below
        SetCell(output, 2, 0.5f, 0.5f, 0, 0, objectness: 0.29f, Person, 1f);    // objectness alone below
        var candidates = new List<DetectionCandidate>();

        s_decoder.Decode(0, output, 0.3f, candidates);

        Assert.Equal(0.3f, Assert.Single(candidates).Score);
    }

    [Fact]
    public void Decode_ForOutputOfWrongLength_SaysWhatItExpected()
    {
        var error = Assert.Throws<ArgumentException>(() => s_decoder.Decode(0, new float[100], 0.3f, []));

        Assert.Contains("3549 x 85", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DetectionDecoder_MapsBoxesThroughTopLeftLetterboxToSourcePixels()
    {
        var labels = new ClassLabels(ClassLabels.Load(Path.Combine(TestAssets.ModelsDirectory, "coco.names")).Names);
        var decoder = new DetectionDecoder(s_decoder, labels, 0.3f, 0.45f);
        var output = new float[s_decoder.OutputLength(0)];
        SetCell(output, (52 * 52) + (5 * 26) + 10, 0.5f, 0.25f, MathF.Log(4), MathF.Log(2), objectness: 0.9f, Dog, 0.8f);

        // 832x624 into 416x416 top-left: exactly half size, so source = input x 2.
        var detections = decoder.Decode([output], LetterboxTransform.Create(832, 624, 416, 416, LetterboxPlacement.TopLeft));

        var detection = Assert.Single(detections);
        Assert.Equal("dog", detection.Label);
        Assert.Equal(Dog, detection.ClassId);
        AssertClose(BoundingBox.FromCenter(336, 168, 128, 64), detection.Box);
    }

    [Fact]
    public void DetectionDecoder_DropsBoxesThatLieInThePadding()
    {
        var head = new YoloxDecoder(416, 416, [8, 16, 32], 1);
        var decoder = new DetectionDecoder(head, new ClassLabels(["person"]), 0.3f, 0.45f);
        var output = new float[head.OutputLength(0)];

        // A 1-class head has rows of 6. Cell (gx 5, gy 45) of stride 8: centre (44, 364), below the 234 rows a 1280x720 picture fills.
        var row = ((45 * 52) + 5) * 6;
        output[row + 4] = 0.9f;
        output[row + 5] = 0.9f;

        var detections = decoder.Decode([output], LetterboxTransform.Create(1280, 720, 416, 416, LetterboxPlacement.TopLeft));

        Assert.Empty(detections);
    }

    private static void SetCell(float[] output, int cell, float x, float y, float w, float h, float objectness, int classId, float classScore)
    {
        var row = output.AsSpan(cell * RowLength, RowLength);
        row[0] = x;
        row[1] = y;
        row[2] = w;
        row[3] = h;
        row[4] = objectness;
        row[5 + classId] = classScore;
    }

    internal static void AssertClose(BoundingBox expected, BoundingBox actual, float tolerance = 1e-3f) =>
        Assert.True(
            Math.Abs(expected.X - actual.X) < tolerance && Math.Abs(expected.Y - actual.Y) < tolerance
            && Math.Abs(expected.Width - actual.Width) < tolerance && Math.Abs(expected.Height - actual.Height) < tolerance,
            $"Expected {expected}, got {actual}.");
}
