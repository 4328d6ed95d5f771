namespace GEdge.Vision.Tests;

public sealed class NonMaxSuppressionTests
{
    private const int Car = 2;
    private const int Truck = 7;

    [Fact]
    public void Apply_WhenSameClassBoxesOverlap_KeepsHighestScore()
    {
        List<DetectionCandidate> candidates =
        [
            new(Car, 0.6f, new BoundingBox(12, 10, 100, 50)),
            new(Car, 0.9f, new BoundingBox(10, 10, 100, 50)),
            new(Car, 0.7f, new BoundingBox(10, 14, 100, 50)),
        ];

        NonMaxSuppression.Apply(candidates, 0.45f);

        Assert.Equal([new DetectionCandidate(Car, 0.9f, new BoundingBox(10, 10, 100, 50))], candidates);
    }

    [Fact]
    public void Apply_WhenBoxesOfDifferentClassesOverlap_KeepsBoth()
    {
        List<DetectionCandidate> candidates =
        [
            new(Truck, 0.3f, new BoundingBox(10, 10, 100, 50)),
            new(Car, 0.8f, new BoundingBox(10, 10, 100, 50)),
        ];

        NonMaxSuppression.Apply(candidates, 0.45f);

        Assert.Equal(
            [new DetectionCandidate(Car, 0.8f, new BoundingBox(10, 10, 100, 50)), new DetectionCandidate(Truck, 0.3f, new BoundingBox(10, 10, 100, 50))],
            candidates);
    }

    [Fact]
    public void Apply_WhenSameClassBoxesAreApart_KeepsAllInScoreOrder()
    {
        List<DetectionCandidate> candidates =
        [
            new(Car, 0.5f, new BoundingBox(0, 0, 10, 10)),
            new(Car, 0.7f, new BoundingBox(100, 0, 10, 10)),
            new(Car, 0.6f, new BoundingBox(200, 0, 10, 10)),
        ];

        NonMaxSuppression.Apply(candidates, 0.45f);

        Assert.Equal([0.7f, 0.6f, 0.5f], candidates.ConvertAll(c => c.Score));
    }

    [Fact]
    public void Apply_WhenScoresTie_KeepsTheTopLeftBoxWhateverTheInputOrder()
    {
        var left = new DetectionCandidate(Car, 0.8f, new BoundingBox(10, 10, 100, 50));
        var right = new DetectionCandidate(Car, 0.8f, new BoundingBox(20, 10, 100, 50));
        List<DetectionCandidate> forward = [left, right];
        List<DetectionCandidate> backward = [right, left];

        NonMaxSuppression.Apply(forward, 0.45f);
        NonMaxSuppression.Apply(backward, 0.45f);

        Assert.Equal([left], forward);
        Assert.Equal([left], backward);
    }

    [Fact]
    public void Apply_WhenOverlapEqualsThreshold_KeepsBoth()
    {
        // Boxes 0..100 and 50..150 (height 10): intersection 500, union 1500, IoU exactly 1/3 -> not above 1/3, so kept.
        List<DetectionCandidate> candidates =
        [
            new(Car, 0.9f, new BoundingBox(0, 0, 100, 10)),
            new(Car, 0.8f, new BoundingBox(50, 0, 100, 10)),
        ];

        NonMaxSuppression.Apply(candidates, 1f / 3);

        Assert.Equal(2, candidates.Count);
    }

    [Fact]
    public void Apply_WhenLowerBoxOverlapsOnlyASuppressedBox_KeepsIt()
    {
        // B is suppressed by A; C overlaps B but not A, and only kept boxes suppress, so C survives (greedy NMS).
        var a = new DetectionCandidate(Car, 0.9f, new BoundingBox(0, 0, 100, 10));
        var b = new DetectionCandidate(Car, 0.8f, new BoundingBox(30, 0, 100, 10));
        var c = new DetectionCandidate(Car, 0.7f, new BoundingBox(60, 0, 100, 10));
        List<DetectionCandidate> candidates = [c, b, a];

        NonMaxSuppression.Apply(candidates, 0.45f);

        Assert.Equal([a, c], candidates);
    }

    [Fact]
    public void Apply_WhenThresholdIsZero_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => NonMaxSuppression.Apply(new List<DetectionCandidate>(), 0f));
}
