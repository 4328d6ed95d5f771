namespace GEdge.Vision;

/// <summary>Turns one model family's raw output tensors (one image's slice) into scored boxes in model-input pixels.</summary>
public interface IYoloHeadDecoder
{
    /// <summary>How many output tensors the head has; <see cref="Decode"/> is called once per output index.</summary>
    int OutputCount { get; }

    /// <summary>Number of floats one image contributes to output <paramref name="outputIndex"/>.</summary>
    int OutputLength(int outputIndex);

    /// <summary>
    /// Appends to <paramref name="candidates"/> every box of output <paramref name="outputIndex"/> whose best class scores at
    /// least <paramref name="scoreThreshold"/>, in model-input pixels.
    /// </summary>
    void Decode(int outputIndex, ReadOnlySpan<float> output, float scoreThreshold, List<DetectionCandidate> candidates);
}
