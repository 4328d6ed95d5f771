namespace GEdge.Vision;

/// <summary>A box a decoder proposes before non-maximum suppression: class, score and box (pixels).</summary>
public readonly record struct DetectionCandidate(int ClassId, float Score, BoundingBox Box);
