using System.Runtime.InteropServices;

namespace GEdge.Vision;

/// <summary>Per-class greedy non-maximum suppression: boxes of different classes never suppress each other.</summary>
public static class NonMaxSuppression
{
    // Score descending; on equal scores the box nearer the top-left wins (then the smaller one), so the survivors do not
    // depend on the order the decoder happened to emit candidates in.
    private static readonly Comparison<DetectionCandidate> s_byScoreThenPosition = static (a, b) =>
    {
        var order = b.Score.CompareTo(a.Score);
        if (order != 0)
        {
            return order;
        }

        order = a.ClassId.CompareTo(b.ClassId);
        if (order != 0)
        {
            return order;
        }

        order = a.Box.X.CompareTo(b.Box.X);
        if (order != 0)
        {
            return order;
        }

        order = a.Box.Y.CompareTo(b.Box.Y);
        if (order != 0)
        {
            return order;
        }

        order = a.Box.Width.CompareTo(b.Box.Width);
        return order != 0 ? order : a.Box.Height.CompareTo(b.Box.Height);
    };

    /// <summary>
    /// Keeps, per class, each box that does not overlap a higher-scoring kept box of its class by more than
    /// <paramref name="iouThreshold"/>. Survivors end up at the front in score order; returns how many there are.
    /// </summary>
    public static int Apply(Span<DetectionCandidate> candidates, float iouThreshold)
    {
        if (iouThreshold is <= 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(iouThreshold), iouThreshold, "The NMS IoU threshold must be in (0, 1].");
        }

        candidates.Sort(s_byScoreThenPosition);
        var kept = 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            var candidate = candidates[i];
            var suppressed = false;

            // Survivors are compacted into [0, kept) as we go, so only boxes already kept (all scoring at least as high) can suppress.
            for (var k = 0; k < kept; k++)
            {
                if (candidates[k].ClassId == candidate.ClassId && candidates[k].Box.IntersectionOverUnion(candidate.Box) > iouThreshold)
                {
                    suppressed = true;
                    break;
                }
            }

            if (!suppressed)
            {
                candidates[kept++] = candidate;
            }
        }

        return kept;
    }

    /// <summary>Applies <see cref="Apply(Span{DetectionCandidate}, float)"/> to a list, truncating it to the survivors.</summary>
    public static void Apply(List<DetectionCandidate> candidates, float iouThreshold)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var kept = Apply(CollectionsMarshal.AsSpan(candidates), iouThreshold);
        candidates.RemoveRange(kept, candidates.Count - kept);
    }
}
