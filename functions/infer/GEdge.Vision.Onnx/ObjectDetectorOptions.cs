namespace GEdge.Vision.Onnx;

/// <summary>Which ONNX Runtime execution provider runs the model.</summary>
public enum ExecutionProvider
{
    /// <summary>The CPU provider: works everywhere.</summary>
    Cpu,

    /// <summary>The CUDA provider on an NVIDIA GPU; falls back to <see cref="Cpu"/> with a warning where CUDA is unavailable.</summary>
    Cuda,
}

/// <summary>
/// How the Infer stage runs its model, bound from the <c>Detector</c> configuration section. The defaults (yolox_nano on the
/// CPU, ORT's own thread count) work with no configuration at all.
/// </summary>
public sealed record ObjectDetectorOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "Detector";

    /// <summary>The model's manifest name in the models folder.</summary>
    public string Model { get; init; } = ModelCatalog.DefaultModel;

    /// <summary>The models folder; null finds it (<see cref="ModelCatalog.FindDirectory"/>).</summary>
    public string? ModelsDirectory { get; init; }

    /// <summary>The execution provider to ask for.</summary>
    public ExecutionProvider ExecutionProvider { get; init; } = ExecutionProvider.Cpu;

    /// <summary>The CUDA device ordinal when <see cref="ExecutionProvider"/> is <see cref="ExecutionProvider.Cuda"/>.</summary>
    public int DeviceId { get; init; }

    /// <summary>Threads ONNX Runtime uses inside one operator; 0 lets it choose (one per physical core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// Whether ONNX Runtime's intra-op threads spin (busy-wait) for the next piece of work instead of sleeping: its
    /// <c>session.intra_op.allow_spinning</c>, which ONNX Runtime turns on by default
    /// (onnxruntime.ai/docs/performance/tune-performance/threading.html). Off here, because Infer shares its cores: with
    /// Preprocess and Postprocess in `gedge run` and `gedge serve`, with other pods on a node in a cluster, and every spin
    /// is a core's time taken from them. Measured on 2 cores, `gedge run` of walking.mp4 looped to 1,364 frames, three
    /// alternating pairs: wall 20.9-22.9 s spinning and 19.1-20.6 s not, user CPU 37.5-41.4 s and 32.1-34.2 s (system
    /// CPU 2.8-3.0 and 4.2-4.8 s). A process with the cores to itself loses by it: a bare session loop on those 2 cores ran
    /// 210-225 frames/s spinning and 152-160 not (`gedge bench-infer --spinning`), so the benchmarks' physical limit keeps
    /// ONNX Runtime's default. Turn it on for an Infer that has its cores alone.
    /// </summary>
    public bool IntraOpSpinning { get; init; }

    /// <summary>Most frames run together when the model has a dynamic batch dimension; models with a fixed batch run one at a time.</summary>
    public int MaxBatchSize { get; init; } = 8;

    /// <summary>
    /// A folder where a session keeps the model as ONNX Runtime optimized it, for the next session on this machine to load
    /// as it is, with nothing to optimize again (<see cref="OnnxSessionFactory"/>); null: every session optimizes the
    /// model afresh. In a cluster, a volume that outlives Infer's pods.
    /// </summary>
    public string? SessionCache { get; init; }
}
