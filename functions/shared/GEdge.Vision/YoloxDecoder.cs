namespace GEdge.Vision;

/// <summary>
/// Decodes YOLOX's single output [1, cells, 5 + classes]: per row x, y, w, h (grid units, log size), objectness and class
/// scores (both already sigmoid-activated in the exported graph); cells run over strides 8, 16, 32 in row-major order.
/// </summary>
public sealed class YoloxDecoder : IYoloHeadDecoder
{
    private readonly int[] _strides;
    private readonly int _inputWidth;
    private readonly int _inputHeight;
    private readonly int _classCount;
    private readonly int _cellCount;

    /// <summary>Creates a decoder for a model of the given input size, strides and class count.</summary>
    public YoloxDecoder(int inputWidth, int inputHeight, IReadOnlyList<int> strides, int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputHeight);
        ArgumentNullException.ThrowIfNull(strides);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        if (strides.Count == 0)
        {
            throw new ArgumentException("A YOLOX head needs at least one stride.", nameof(strides));
        }

        _strides = [.. strides];
        _inputWidth = inputWidth;
        _inputHeight = inputHeight;
        _classCount = classCount;
        foreach (var stride in _strides)
        {
            if (stride <= 0 || inputWidth % stride != 0 || inputHeight % stride != 0)
            {
                throw new ArgumentException($"Stride {stride} does not divide the input size {inputWidth}x{inputHeight}.", nameof(strides));
            }

            _cellCount += inputWidth / stride * (inputHeight / stride);
        }
    }

    /// <inheritdoc />
    public int OutputCount => 1;

    /// <summary>Grid cells over all strides (3549 for a 416x416 input).</summary>
    public int CellCount => _cellCount;

    /// <inheritdoc />
    public int OutputLength(int outputIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(outputIndex, 0);
        return _cellCount * (5 + _classCount);
    }

    /// <inheritdoc />
    public void Decode(int outputIndex, ReadOnlySpan<float> output, float scoreThreshold, List<DetectionCandidate> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var rowLength = 5 + _classCount;
        if (output.Length != OutputLength(outputIndex))
        {
            throw new ArgumentException(
                $"A YOLOX output for {_inputWidth}x{_inputHeight} with {_classCount} classes has {_cellCount} x {rowLength} floats, not {output.Length}.",
                nameof(output));
        }

        var row = 0;
        foreach (var stride in _strides)
        {
            var gridWidth = _inputWidth / stride;
            var gridHeight = _inputHeight / stride;
            for (var gy = 0; gy < gridHeight; gy++)
            {
                for (var gx = 0; gx < gridWidth; gx++, row++)
                {
                    var values = output.Slice(row * rowLength, rowLength);
                    var objectness = values[4];

                    // score = objectness x class score <= objectness, so most cells end here without touching their classes.
                    if (objectness < scoreThreshold)
                    {
                        continue;
                    }

                    var (classId, classScore) = BestClass(values[5..]);
                    var score = objectness * classScore;
                    if (score < scoreThreshold)
                    {
                        continue;
                    }

                    var box = BoundingBox.FromCenter(
                        (values[0] + gx) * stride,
                        (values[1] + gy) * stride,
                        MathF.Exp(values[2]) * stride,
                        MathF.Exp(values[3]) * stride);
                    candidates.Add(new DetectionCandidate(classId, score, box));
                }
            }
        }
    }

    /// <summary>The highest-scoring class; the lowest id on a tie.</summary>
    internal static (int ClassId, float Score) BestClass(ReadOnlySpan<float> classScores)
    {
        var best = 0;
        var bestScore = classScores[0];
        for (var c = 1; c < classScores.Length; c++)
        {
            if (classScores[c] > bestScore)
            {
                bestScore = classScores[c];
                best = c;
            }
        }

        return (best, bestScore);
    }
}
