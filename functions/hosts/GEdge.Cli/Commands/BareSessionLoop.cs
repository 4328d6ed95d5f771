using GEdge.Media;
using GEdge.Vision;
using GEdge.Vision.Onnx;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace GEdge.Cli.Commands;

/// <summary>
/// The physical reference: ONNX Runtime alone, the textbook loop (OrtValues over tensors filled before timing, outputs
/// allocated by ORT each run), with the session options the detector uses.
/// </summary>
internal sealed class BareSessionLoop : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly OrtValue[] _inputs;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    public BareSessionLoop(ModelManifest manifest, ObjectDetectorOptions options, List<LetterboxedFrame> frames, ILogger logger)
    {
        _session = OnnxSessionFactory.Create(manifest.ModelPath, options, logger, out _);
        _inputNames = [manifest.Input.Name];
        _outputNames = Array.ConvertAll(manifest.Outputs, o => o.Name);
        var shape = manifest.Input.Layout == TensorLayout.Nchw
            ? new long[] { 1, 3, manifest.Input.Height, manifest.Input.Width }
            : [1, manifest.Input.Height, manifest.Input.Width, 3];
        _inputs = new OrtValue[frames.Count];
        for (var i = 0; i < frames.Count; i++)
        {
            var tensor = new float[manifest.Input.FrameByteCount];
            InputTensorWriter.Write(frames[i].Span, tensor, manifest.Input);
            _inputs[i] = OrtValue.CreateTensorValueFromMemory(tensor, shape);
        }
    }

    /// <summary>Copies of the outputs for frame <paramref name="i"/>, for timing the decoder on real values.</summary>
    public ReadOnlyMemory<float>[] OutputsOf(int i)
    {
        using var results = _session.Run(_runOptions, _inputNames, [_inputs[i % _inputs.Length]], _outputNames);
        var outputs = new ReadOnlyMemory<float>[results.Count];
        for (var o = 0; o < outputs.Length; o++)
        {
            outputs[o] = results[o].GetTensorDataAsSpan<float>().ToArray();
        }

        return outputs;
    }

    public void RunOne(int i)
    {
        using var results = _session.Run(_runOptions, _inputNames, [_inputs[i % _inputs.Length]], _outputNames);
    }

    public void Dispose()
    {
        foreach (var input in _inputs)
        {
            input.Dispose();
        }

        _runOptions.Dispose();
        _session.Dispose();
    }
}
