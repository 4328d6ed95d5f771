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

    /// <summary>Most frames run together when the model has a dynamic batch dimension; models with a fixed batch run one at a time.</summary>
    public int MaxBatchSize { get; init; } = 8;

    /// <summary>
    /// A folder where a session keeps the model as ONNX Runtime optimized it, for the next session on this machine to load
    /// as it is, with nothing to optimize again (<see cref="OnnxSessionFactory"/>); null: every session optimizes the
    /// model afresh. In a cluster, a volume that outlives Infer's pods.
    /// </summary>
    public string? SessionCache { get; init; }
}
