using GEdge.Vision;
using Microsoft.ML.OnnxRuntime;

namespace GEdge.Vision.Onnx;

/// <summary>
/// The buffers one in-flight inference owns: the input tensor and every output tensor as managed arrays, with OrtValues
/// pinned over them (one set per batch size used), so a run allocates nothing and decoding reads ORT's results in place.
/// </summary>
internal sealed class InferenceWorkspace : IDisposable
{
    private readonly float[] _input;
    private readonly float[][] _outputs;
    private readonly int _imageInputLength;
    private readonly int[] _imageOutputLengths;
    private readonly long[] _inputShape;
    private readonly long[][] _outputShapes;
    private readonly (OrtValue[] Inputs, OrtValue[] Outputs)?[] _valuesByBatch;
    private readonly ReadOnlyMemory<float>[] _imageOutputs;

    public InferenceWorkspace(int imageInputLength, long[] inputShape, int[] imageOutputLengths, long[][] outputShapes, int maxBatch)
    {
        _imageInputLength = imageInputLength;
        _imageOutputLengths = imageOutputLengths;
        _inputShape = inputShape;
        _outputShapes = outputShapes;
        _input = new float[imageInputLength * maxBatch];
        _outputs = new float[imageOutputLengths.Length][];
        for (var i = 0; i < imageOutputLengths.Length; i++)
        {
            _outputs[i] = new float[imageOutputLengths[i] * maxBatch];
        }

        _valuesByBatch = new (OrtValue[], OrtValue[])?[maxBatch + 1];
        _imageOutputs = new ReadOnlyMemory<float>[imageOutputLengths.Length];
    }

    public RunOptions RunOptions { get; } = new();

    /// <summary>Reused across the workspace's runs for decoding candidates.</summary>
    public List<DetectionCandidate> Candidates { get; } = new(256);

    public Span<float> ImageInput(int image) => _input.AsSpan(image * _imageInputLength, _imageInputLength);

    /// <summary>Image <paramref name="image"/>'s slice of each output; the array is reused, so read it before the next call.</summary>
    public ReadOnlyMemory<float>[] ImageOutputs(int image)
    {
        for (var i = 0; i < _outputs.Length; i++)
        {
            _imageOutputs[i] = _outputs[i].AsMemory(image * _imageOutputLengths[i], _imageOutputLengths[i]);
        }

        return _imageOutputs;
    }

    public (OrtValue[] Inputs, OrtValue[] Outputs) ValuesFor(int batch)
    {
        if (_valuesByBatch[batch] is { } values)
        {
            return values;
        }

        var inputShape = WithBatch(_inputShape, batch);
        var inputs = new[]
        {
            OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _input.AsMemory(0, _imageInputLength * batch), inputShape),
        };
        var outputs = new OrtValue[_outputs.Length];
        for (var i = 0; i < _outputs.Length; i++)
        {
            outputs[i] = OrtValue.CreateTensorValueFromMemory(
                OrtMemoryInfo.DefaultInstance, _outputs[i].AsMemory(0, _imageOutputLengths[i] * batch), WithBatch(_outputShapes[i], batch));
        }

        _valuesByBatch[batch] = (inputs, outputs);
        return (inputs, outputs);
    }

    public void Dispose()
    {
        foreach (var values in _valuesByBatch)
        {
            if (values is var (inputs, outputs))
            {
                foreach (var value in inputs)
                {
                    value.Dispose();
                }

                foreach (var value in outputs)
                {
                    value.Dispose();
                }
            }
        }

        RunOptions.Dispose();
    }

    private static long[] WithBatch(long[] shape, int batch)
    {
        var copy = (long[])shape.Clone();
        copy[0] = batch;
        return copy;
    }
}
