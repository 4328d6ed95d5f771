namespace GEdge.Vision;

/// <summary>
/// The whole way from a model's raw outputs to detections a user sees: the family's head decoder, score threshold,
/// mapping back through the letterbox to source pixels (clipped; boxes left empty are dropped), then per-class NMS.
/// Stateless and thread-safe.
/// </summary>
public sealed class DetectionDecoder
{
    /// <summary>Creates the chain for a head decoder, class labels and default thresholds.</summary>
    public DetectionDecoder(IYoloHeadDecoder head, ClassLabels labels, float scoreThreshold, float nmsIouThreshold)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegative(scoreThreshold);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(scoreThreshold, 1f);
        if (nmsIouThreshold is <= 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(nmsIouThreshold), nmsIouThreshold, "The NMS IoU threshold must be in (0, 1].");
        }

        Head = head;
        Labels = labels;
        ScoreThreshold = scoreThreshold;
        NmsIouThreshold = nmsIouThreshold;
    }

    /// <summary>Creates the chain a manifest describes, reading its labels file.</summary>
    public static DetectionDecoder FromManifest(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return new DetectionDecoder(CreateHead(manifest.Decoder, manifest.Input), manifest.LoadLabels(), manifest.ScoreThreshold, manifest.NmsIouThreshold);
    }

    /// <summary>The head decoder for a decoder spec and input size.</summary>
    public static IYoloHeadDecoder CreateHead(DecoderSpec spec, ModelInput input)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(input);
        return spec.Kind switch
        {
            DecoderKind.Yolox => new YoloxDecoder(input.Width, input.Height, spec.Strides, spec.ClassCount),
            DecoderKind.Yolov4 => new Yolov4Decoder(input.Width, input.Height, spec.Strides, spec.Anchors, spec.XyScale, spec.ClassCount),
            _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "Unknown decoder kind."),
        };
    }

    /// <summary>The family-specific decoder.</summary>
    public IYoloHeadDecoder Head { get; }

    /// <summary>Class names by id.</summary>
    public ClassLabels Labels { get; }

    /// <summary>Default minimum score (objectness x class score) of a detection.</summary>
    public float ScoreThreshold { get; }

    /// <summary>Overlap above which a lower-scoring box of the same class is suppressed.</summary>
    public float NmsIouThreshold { get; }

    /// <summary>
    /// Decodes one image's outputs (in the head's output order, each exactly <see cref="IYoloHeadDecoder.OutputLength"/> floats)
    /// into detections in source pixels, highest score first.
    /// </summary>
    /// <param name="outputs">One image's slice of each output tensor.</param>
    /// <param name="letterbox">How the image was fitted into the model input.</param>
    /// <param name="scoreThreshold">Overrides <see cref="ScoreThreshold"/> when given.</param>
    /// <param name="scratch">A list reused across calls to hold candidates; one is allocated when null.</param>
    public IReadOnlyList<Detection> Decode(
        IReadOnlyList<ReadOnlyMemory<float>> outputs,
        LetterboxTransform letterbox,
        float? scoreThreshold = null,
        List<DetectionCandidate>? scratch = null)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(letterbox);
        if (outputs.Count != Head.OutputCount)
        {
            throw new ArgumentException($"The model head has {Head.OutputCount} outputs but {outputs.Count} were given.", nameof(outputs));
        }

        var threshold = scoreThreshold ?? ScoreThreshold;
        var candidates = scratch ?? [];
        candidates.Clear();
        for (var i = 0; i < outputs.Count; i++)
        {
            Head.Decode(i, outputs[i].Span, threshold, candidates);
        }

        return Select(candidates, letterbox);
    }

    /// <summary>
    /// Maps candidates in model-input pixels back to source pixels, drops those left empty after clipping, applies per-class
    /// NMS and labels the survivors. The list is used as scratch.
    /// </summary>
    public IReadOnlyList<Detection> Select(List<DetectionCandidate> candidates, LetterboxTransform letterbox)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(letterbox);

        // Map before NMS, as both reference implementations do: overlaps are then measured in the pixels the user sees,
        // and a box lying wholly in the padding is gone before it can suppress anything.
        var mapped = 0;
        for (var i = 0; i < candidates.Count; i++)
        {
            var candidate = candidates[i];
            var box = letterbox.ToSource(candidate.Box);
            if (box.Area > 0)
            {
                candidates[mapped++] = candidate with { Box = box };
            }
        }

        candidates.RemoveRange(mapped, candidates.Count - mapped);
        NonMaxSuppression.Apply(candidates, NmsIouThreshold);
        var detections = new Detection[candidates.Count];
        for (var i = 0; i < detections.Length; i++)
        {
            var candidate = candidates[i];
            detections[i] = new Detection(candidate.ClassId, Labels[candidate.ClassId], candidate.Score, candidate.Box);
        }

        return detections;
    }
}
