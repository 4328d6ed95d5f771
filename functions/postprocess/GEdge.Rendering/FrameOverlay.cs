using GEdge.Vision;

namespace GEdge.Rendering;

/// <summary>What to draw on one frame: the detections of frame <see cref="FrameIndex"/> (0-based, in decode order).</summary>
/// <remarks>
/// A stream of overlays lists frames in ascending order and may skip frames that have nothing to draw, so a video with
/// few detections costs little to describe.
/// </remarks>
public sealed record FrameOverlay(int FrameIndex, IReadOnlyList<Detection> Detections);
