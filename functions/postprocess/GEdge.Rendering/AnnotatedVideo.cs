using GEdge.Media;

namespace GEdge.Rendering;

/// <summary>An annotated video that was written: where, its picture, and how long making it took.</summary>
/// <param name="Path">The MP4 file.</param>
/// <param name="Width">Picture width, the original's.</param>
/// <param name="Height">Picture height, the original's.</param>
/// <param name="FrameRate">The rate it plays at, the original's.</param>
/// <param name="FrameCount">Frames written: every frame the original decodes to.</param>
/// <param name="Elapsed">Wall-clock time from probe to the finished file.</param>
public sealed record AnnotatedVideo(string Path, int Width, int Height, FrameRate FrameRate, int FrameCount, TimeSpan Elapsed)
{
    /// <summary>Frames annotated per second of wall-clock time.</summary>
    public double FramesPerSecond => Elapsed > TimeSpan.Zero ? FrameCount / Elapsed.TotalSeconds : 0;
}

/// <summary>An annotated piece of a longer video, to be joined with the others (<see cref="AnnotatedVideoWriter.JoinAsync"/>).</summary>
/// <param name="Path">The piece, as <see cref="AnnotatedVideoWriter.WriteAsync"/> wrote it at the whole video's rate.</param>
/// <param name="FrameCount">Its frames: with the rate, what fixes where the next piece starts.</param>
public sealed record AnnotatedPiece(string Path, int FrameCount);
