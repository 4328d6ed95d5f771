using System.Collections.Concurrent;
using System.Diagnostics;
using GEdge.Vision;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace GEdge.Vision.Onnx;

/// <summary>
/// Finds objects in model-ready frames with one ONNX Runtime session per model, loaded once and shared: <see cref="Detect"/>
/// and <see cref="DetectBatch"/> are thread-safe (each concurrent call borrows its own pinned tensor buffers).
/// </summary>
public sealed partial class ObjectDetector : IDisposable
{
    /// <summary>
    /// The detector's activities, <c>model session</c> (loading the model into ONNX Runtime) and <c>first inference</c> (the
    /// run on a blank frame that takes a session's first-run cost at start-up), for whoever listens.
    /// </summary>
    public static readonly ActivitySource Activities = new("GEdge.Vision.Onnx");

    /// <summary>
    /// <c>inference</c>, one run of the model: a source of its own, since there is one per frame; the start-up timings take
    /// the first, a tracer leaves it out.
    /// </summary>
    public static readonly ActivitySource InferenceActivities = new("GEdge.Vision.Onnx.Inference");

    private readonly InferenceSession _session;
    private readonly ConcurrentBag<InferenceWorkspace> _workspaces = [];
    private readonly long[] _inputShape;
    private readonly long[][] _outputShapes;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly int[] _outputLengths;
    private readonly ILogger _logger;
    private bool _disposed;

    /// <summary>Verifies the model file against its manifest and loads it.</summary>
    /// <exception cref="ModelException">The model file is missing or differs from the manifest, or does not have the manifest's inputs and outputs.</exception>
    public ObjectDetector(ModelManifest manifest, ObjectDetectorOptions? options = null, ILogger<ObjectDetector>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        options ??= new ObjectDetectorOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxBatchSize);
        _logger = logger ?? (ILogger)NullLogger.Instance;
        Manifest = manifest;
        manifest.VerifyModelFile();
        Decoder = DetectionDecoder.FromManifest(manifest);

        var stopwatch = Stopwatch.StartNew();
        ExecutionProvider provider;
        using (Activities.StartActivity("model session"))
        {
            _session = OnnxSessionFactory.Create(manifest.ModelPath, options, _logger, out provider, manifest.Sha256);
        }

        try
        {
            ExecutionProvider = provider;
            (_inputShape, MaxBatchSize) = ReadInputShape(options.MaxBatchSize);
            _inputNames = [manifest.Input.Name];
            _outputNames = new string[manifest.Outputs.Length];
            _outputShapes = new long[manifest.Outputs.Length][];
            _outputLengths = new int[manifest.Outputs.Length];
            for (var i = 0; i < manifest.Outputs.Length; i++)
            {
                (_outputNames[i], _outputShapes[i], _outputLengths[i]) = ReadOutputShape(i);
            }

            // One run on a blank frame before any real one: a session's first run is its slowest (ONNX Runtime sets up
            // its arena and kernels; on CUDA, cuDNN picks its convolution algorithms), and it would otherwise fall on a
            // job's first frame rather than on the start-up that /readyz waits for.
            using (Activities.StartActivity("first inference"))
            {
                WarmUp();
            }
        }
        catch
        {
            _session.Dispose();
            throw;
        }

        LogLoaded(manifest.Name, ExecutionProvider, MaxBatchSize, stopwatch.ElapsedMilliseconds);
    }

    /// <summary>Creates the detector the options name (model from the models folder).</summary>
    public static ObjectDetector Create(ObjectDetectorOptions options, ILogger<ObjectDetector>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ObjectDetector(ModelCatalog.Load(options.Model, options.ModelsDirectory), options, logger);
    }

    /// <summary>The model's manifest.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>The model input frames must be letterboxed to.</summary>
    public ModelInput Input => Manifest.Input;

    /// <summary>The provider the session really runs on (CPU after a CUDA fallback).</summary>
    public ExecutionProvider ExecutionProvider { get; }

    /// <summary>How many frames one model run takes: 1 for a fixed-batch model such as yolox_nano.</summary>
    public int MaxBatchSize { get; }

    /// <summary>Decoding, thresholds, NMS and labels for this model.</summary>
    public DetectionDecoder Decoder { get; }

    /// <summary>Finds the objects in one model-ready frame; boxes are in the source frame's pixels, highest score first.</summary>
    /// <param name="frame">InputWidth x InputHeight x 3 interleaved bytes in the manifest's channel order.</param>
    /// <param name="letterbox">How the source frame was fitted into the input.</param>
    /// <param name="scoreThreshold">Overrides the manifest's score threshold when given.</param>
    public IReadOnlyList<Detection> Detect(ReadOnlySpan<byte> frame, LetterboxTransform letterbox, float? scoreThreshold = null)
    {
        ArgumentNullException.ThrowIfNull(letterbox);
        var workspace = Rent();
        try
        {
            InputTensorWriter.Write(frame, workspace.ImageInput(0), Input);
            Run(workspace, 1);
            return Decoder.Decode(workspace.ImageOutputs(0), letterbox, scoreThreshold, workspace.Candidates);
        }
        finally
        {
            _workspaces.Add(workspace);
        }
    }

    /// <summary>
    /// Finds the objects in several frames, running them through the model <see cref="MaxBatchSize"/> at a time; the
    /// result has one list per frame, in order.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<Detection>> DetectBatch(
        IReadOnlyList<ReadOnlyMemory<byte>> frames,
        IReadOnlyList<LetterboxTransform> letterboxes,
        float? scoreThreshold = null)
    {
        ArgumentNullException.ThrowIfNull(frames);
        ArgumentNullException.ThrowIfNull(letterboxes);
        if (frames.Count != letterboxes.Count)
        {
            throw new ArgumentException($"{frames.Count} frames but {letterboxes.Count} letterbox transforms: give one per frame.", nameof(letterboxes));
        }

        var results = new IReadOnlyList<Detection>[frames.Count];
        var workspace = Rent();
        try
        {
            for (var start = 0; start < frames.Count; start += MaxBatchSize)
            {
                var batch = Math.Min(MaxBatchSize, frames.Count - start);
                for (var b = 0; b < batch; b++)
                {
                    InputTensorWriter.Write(frames[start + b].Span, workspace.ImageInput(b), Input);
                }

                Run(workspace, batch);
                for (var b = 0; b < batch; b++)
                {
                    results[start + b] = Decoder.Decode(workspace.ImageOutputs(b), letterboxes[start + b], scoreThreshold, workspace.Candidates);
                }
            }
        }
        finally
        {
            _workspaces.Add(workspace);
        }

        return results;
    }

    /// <summary>Releases the session and the pinned buffers.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        while (_workspaces.TryTake(out var workspace))
        {
            workspace.Dispose();
        }

        _session.Dispose();
    }

    private void Run(InferenceWorkspace workspace, int batch)
    {
        using var running = InferenceActivities.StartActivity("inference");
        RunSession(workspace, batch);
    }

    private void RunSession(InferenceWorkspace workspace, int batch)
    {
        var (inputs, outputs) = workspace.ValuesFor(batch);
        _session.Run(workspace.RunOptions, _inputNames, inputs, _outputNames, outputs);
    }

    // The first run, on a frame of nothing but padding, its result dropped; its workspace is the first a frame gets.
    private void WarmUp()
    {
        var workspace = Rent();
        try
        {
            var blank = new byte[Input.FrameByteCount];
            Array.Fill(blank, Input.PadValue);
            InputTensorWriter.Write(blank, workspace.ImageInput(0), Input);
            RunSession(workspace, 1);
        }
        finally
        {
            _workspaces.Add(workspace);
        }
    }

    private InferenceWorkspace Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _workspaces.TryTake(out var workspace)
            ? workspace
            : new InferenceWorkspace(Input.FrameByteCount, _inputShape, _outputLengths, _outputShapes, MaxBatchSize);
    }

    private (long[] Shape, int MaxBatch) ReadInputShape(int requestedMaxBatch)
    {
        if (!_session.InputMetadata.TryGetValue(Manifest.Input.Name, out var metadata))
        {
            throw new ModelException(
                $"Model {Manifest.Name} has no input \"{Manifest.Input.Name}\" (it has {string.Join(", ", _session.InputMetadata.Keys)}): fix the manifest.");
        }

        var dims = metadata.Dimensions;
        var (height, width) = Manifest.Input.Layout == TensorLayout.Nchw ? (dims[2], dims[3]) : (dims[1], dims[2]);
        var channels = Manifest.Input.Layout == TensorLayout.Nchw ? dims[1] : dims[3];
        if (dims.Length != 4 || channels != 3 || height != Manifest.Input.Height || width != Manifest.Input.Width)
        {
            throw new ModelException(
                $"Model {Manifest.Name} input \"{Manifest.Input.Name}\" has shape [{string.Join(", ", dims)}], not the manifest's {Manifest.Input.Layout} {Manifest.Input.Width}x{Manifest.Input.Height}x3.");
        }

        // A fixed batch dimension (yolox_nano: 1) means one frame per run; a dynamic one (-1) lets frames share a run.
        var maxBatch = dims[0] > 0 ? dims[0] : requestedMaxBatch;
        return (Array.ConvertAll(dims, d => (long)d), maxBatch);
    }

    private (string Name, long[] Shape, int Length) ReadOutputShape(int index)
    {
        var name = Manifest.Outputs[index].Name;
        if (!_session.OutputMetadata.TryGetValue(name, out var metadata))
        {
            throw new ModelException(
                $"Model {Manifest.Name} has no output \"{name}\" (it has {string.Join(", ", _session.OutputMetadata.Keys)}): fix the manifest.");
        }

        var dims = metadata.Dimensions;
        var length = 1;
        for (var d = 1; d < dims.Length; d++)
        {
            if (dims[d] <= 0)
            {
                throw new ModelException($"Model {Manifest.Name} output \"{name}\" has a dynamic dimension other than the batch: [{string.Join(", ", dims)}].");
            }

            length *= dims[d];
        }

        if (length != Decoder.Head.OutputLength(index))
        {
            throw new ModelException(
                $"Model {Manifest.Name} output \"{name}\" has {length} floats per image but its {Manifest.Decoder.Kind} decoder expects {Decoder.Head.OutputLength(index)}.");
        }

        return (name, Array.ConvertAll(dims, d => (long)d), length);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded model {Model} on the {Provider} execution provider (batch {MaxBatch}) in {ElapsedMs} ms")]
    private partial void LogLoaded(string model, ExecutionProvider provider, int maxBatch, long elapsedMs);
}
