namespace GEdge.Vision;

/// <summary>
/// Decodes the ONNX model zoo's YOLOv4: one output per stride, [1, gh, gw, anchors, 5 + classes], as its reference
/// post-processing does: xy = ((sigmoid(t) x XYSCALE) - (XYSCALE - 1) / 2 + grid) x stride, wh = exp(t) x anchor, and
/// objectness and class scores used as the graph emits them (already activated).
/// </summary>
public sealed class Yolov4Decoder : IYoloHeadDecoder
{
    private readonly int _inputWidth;
    private readonly int _inputHeight;
    private readonly int[] _strides;
    private readonly float[][] _anchors;
    private readonly float[] _xyScale;
    private readonly int _classCount;

    /// <summary>Creates a decoder from strides, per-stride anchors (flat w, h pairs in input pixels) and XY scales.</summary>
    public Yolov4Decoder(int inputWidth, int inputHeight, IReadOnlyList<int> strides, IReadOnlyList<float[]> anchors, IReadOnlyList<float> xyScale, int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputHeight);
        ArgumentNullException.ThrowIfNull(strides);
        ArgumentNullException.ThrowIfNull(anchors);
        ArgumentNullException.ThrowIfNull(xyScale);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        if (strides.Count == 0 || anchors.Count != strides.Count || xyScale.Count != strides.Count)
        {
            throw new ArgumentException(
                $"YOLOv4 needs one anchor list and one XY scale per stride; got {strides.Count} strides, {anchors.Count} anchor lists, {xyScale.Count} XY scales.");
        }

        _strides = [.. strides];
        _anchors = new float[anchors.Count][];
        for (var level = 0; level < anchors.Count; level++)
        {
            var levelAnchors = anchors[level];
            if (levelAnchors is null || levelAnchors.Length == 0 || levelAnchors.Length % 2 != 0)
            {
                throw new ArgumentException($"Anchors of level {level} must be non-empty (w, h) pairs.", nameof(anchors));
            }

            if (inputWidth % _strides[level] != 0 || inputHeight % _strides[level] != 0)
            {
                throw new ArgumentException($"Stride {_strides[level]} does not divide the input size {inputWidth}x{inputHeight}.", nameof(strides));
            }

            _anchors[level] = [.. levelAnchors];
        }

        _xyScale = [.. xyScale];
        _inputWidth = inputWidth;
        _inputHeight = inputHeight;
        _classCount = classCount;
    }

    /// <inheritdoc />
    public int OutputCount => _strides.Length;

    /// <inheritdoc />
    public int OutputLength(int outputIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outputIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(outputIndex, _strides.Length);
        var stride = _strides[outputIndex];
        return _inputHeight / stride * (_inputWidth / stride) * (_anchors[outputIndex].Length / 2) * (5 + _classCount);
    }

    /// <inheritdoc />
    public void Decode(int outputIndex, ReadOnlySpan<float> output, float scoreThreshold, List<DetectionCandidate> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var expected = OutputLength(outputIndex);
        if (output.Length != expected)
        {
            throw new ArgumentException($"YOLOv4 output {outputIndex} should have {expected} floats, not {output.Length}.", nameof(output));
        }

        var stride = _strides[outputIndex];
        var anchors = _anchors[outputIndex];
        var anchorCount = anchors.Length / 2;
        var xyScale = _xyScale[outputIndex];
        var xyShift = 0.5f * (xyScale - 1);
        var gridWidth = _inputWidth / stride;
        var gridHeight = _inputHeight / stride;
        var rowLength = 5 + _classCount;
        var row = 0;
        for (var gy = 0; gy < gridHeight; gy++)
        {
            for (var gx = 0; gx < gridWidth; gx++)
            {
                for (var a = 0; a < anchorCount; a++, row++)
                {
                    var values = output.Slice(row * rowLength, rowLength);
                    var objectness = values[4];
                    if (objectness < scoreThreshold)
                    {
                        continue;
                    }

                    var (classId, classScore) = YoloxDecoder.BestClass(values[5..]);
                    var score = objectness * classScore;
                    if (score < scoreThreshold)
                    {
                        continue;
                    }

                    var centerX = ((Sigmoid(values[0]) * xyScale) - xyShift + gx) * stride;
                    var centerY = ((Sigmoid(values[1]) * xyScale) - xyShift + gy) * stride;
                    var width = MathF.Exp(values[2]) * anchors[2 * a];
                    var height = MathF.Exp(values[3]) * anchors[(2 * a) + 1];
                    candidates.Add(new DetectionCandidate(classId, score, BoundingBox.FromCenter(centerX, centerY, width, height)));
                }
            }
        }
    }

    private static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));
}
