using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GEdge.Vision;

/// <summary>Memory layout of the model's input tensor.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TensorLayout>))]
public enum TensorLayout
{
    /// <summary>[batch, channels, height, width]: one plane per channel.</summary>
    Nchw,

    /// <summary>[batch, height, width, channels]: interleaved pixels.</summary>
    Nhwc,
}

/// <summary>Order of the colour channels the model expects.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ChannelOrder>))]
public enum ChannelOrder
{
    /// <summary>Blue, green, red (OpenCV-trained models such as YOLOX).</summary>
    Bgr,

    /// <summary>Red, green, blue.</summary>
    Rgb,
}

/// <summary>
/// What a model needs from the preprocess stage: the input tensor's name, size, layout, channel order, value scale
/// and how frames are letterboxed into it. One per model, read from <c>models/NAME.json</c>.
/// </summary>
public sealed record ModelInput(
    string Name,
    int Width,
    int Height,
    TensorLayout Layout,
    ChannelOrder ChannelOrder,
    float Scale,
    [property: JsonConverter(typeof(JsonStringEnumConverter<LetterboxPlacement>))] LetterboxPlacement Placement,
    byte PadValue)
{
    /// <summary>Bytes in one model-ready frame: <see cref="Width"/> x <see cref="Height"/> interleaved 8-bit pixels of 3 channels.</summary>
    public int FrameByteCount => Width * Height * 3;

    /// <summary>The letterbox transform of a source frame into this input.</summary>
    public LetterboxTransform LetterboxFor(int sourceWidth, int sourceHeight) =>
        LetterboxTransform.Create(sourceWidth, sourceHeight, Width, Height, Placement);
}

/// <summary>One output tensor of a model: its name and shape (-1 for a dynamic dimension).</summary>
public sealed record ModelOutput(string Name, int[] Shape);

/// <summary>The family of YOLO head a model has, which decides how its outputs are decoded.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DecoderKind>))]
public enum DecoderKind
{
    /// <summary>Anchor-free YOLOX: one output [1, cells, 5 + classes] over all strides, sigmoid already applied.</summary>
    Yolox,

    /// <summary>The ONNX model zoo's YOLOv4: one output per stride [1, gh, gw, anchors, 5 + classes].</summary>
    Yolov4,
}

/// <summary>How to decode a model's outputs into boxes: head family, strides and, for anchor-based heads, anchors and XY scales.</summary>
/// <param name="Kind">The head family.</param>
/// <param name="Strides">Input pixels per grid cell of each output level, in output order (8, 16, 32).</param>
/// <param name="Anchors">Per level, anchor sizes in input pixels as flat pairs (w0, h0, w1, h1, ...); empty for anchor-free heads.</param>
/// <param name="XyScale">Per level, the YOLOv4 grid-sensitivity factor (XYSCALE); empty for heads without one.</param>
/// <param name="ClassCount">Number of classes the head scores.</param>
public sealed record DecoderSpec(DecoderKind Kind, int[] Strides, float[][] Anchors, float[] XyScale, int ClassCount);

/// <summary>
/// A model and everything needed to run it: its file and checksum, where it came from, its input contract,
/// outputs, decoder and labels. Read from <c>models/NAME.json</c>; relative file names resolve next to the manifest.
/// </summary>
public sealed record ModelManifest(
    string Name,
    string File,
    string Sha256,
    long Size,
    string Source,
    string Licence,
    ModelInput Input,
    ModelOutput[] Outputs,
    DecoderSpec Decoder,
    string Labels,
    float ScoreThreshold,
    float NmsIouThreshold)
{
    /// <summary>The folder the manifest was read from; relative paths in it resolve here.</summary>
    [JsonIgnore]
    public string Directory { get; init; } = ".";

    /// <summary>Full path of the model file.</summary>
    [JsonIgnore]
    public string ModelPath => Path.GetFullPath(Path.Combine(Directory, File));

    /// <summary>Full path of the labels file.</summary>
    [JsonIgnore]
    public string LabelsPath => Path.GetFullPath(Path.Combine(Directory, Labels));

    /// <summary>Reads and validates a manifest file.</summary>
    /// <exception cref="ModelException">The file is missing, is not valid JSON, or lacks a required field.</exception>
    public static ModelManifest Load(string manifestPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(manifestPath);
        if (!System.IO.File.Exists(manifestPath))
        {
            throw new ModelException($"Model manifest {manifestPath} does not exist.");
        }

        ModelManifest? manifest;
        try
        {
            using var stream = System.IO.File.OpenRead(manifestPath);
            manifest = JsonSerializer.Deserialize(stream, ModelManifestJsonContext.Default.ModelManifest);
        }
        catch (JsonException e)
        {
            throw new ModelException($"Model manifest {manifestPath} is not valid: {e.Message}", e);
        }

        if (manifest is null)
        {
            throw new ModelException($"Model manifest {manifestPath} is empty.");
        }

        manifest = manifest with { Directory = Path.GetDirectoryName(Path.GetFullPath(manifestPath))! };
        manifest.Validate(manifestPath);
        return manifest;
    }

    /// <summary>
    /// Checks that the model file exists and has the manifest's size and sha256, so a truncated download or a different
    /// model fails here with the fix in the message rather than as wrong detections later.
    /// </summary>
    /// <exception cref="ModelException">The file is missing or differs from the manifest.</exception>
    public void VerifyModelFile()
    {
        var path = ModelPath;
        var shown = Path.Combine(Path.GetFileName(Directory), File);
        if (!System.IO.File.Exists(path))
        {
            throw new ModelException(
                $"{shown} is missing: download it from {Source} and place it there ({path}); expected {Size:N0} bytes, sha256 {Sha256}.");
        }

        var actualSize = new FileInfo(path).Length;
        if (actualSize != Size)
        {
            throw new ModelException(
                $"{shown} has {actualSize:N0} bytes but the manifest expects {Size:N0} (sha256 {Sha256}): the file is incomplete or a different model; download it again from {Source}.");
        }

        string actualHash;
        using (var stream = System.IO.File.OpenRead(path))
        {
            actualHash = Convert.ToHexStringLower(SHA256.HashData(stream));
        }

        if (!string.Equals(actualHash, Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelException(
                $"{shown} has sha256 {actualHash} but the manifest expects {Sha256}: the file is corrupt or a different model; download it again from {Source}.");
        }
    }

    /// <summary>Reads the class labels the manifest names and checks there is one per class the decoder scores.</summary>
    public ClassLabels LoadLabels()
    {
        var labels = ClassLabels.Load(LabelsPath);
        if (labels.Count != Decoder.ClassCount)
        {
            throw new ModelException($"{LabelsPath} has {labels.Count} labels but model {Name} scores {Decoder.ClassCount} classes.");
        }

        return labels;
    }

    private void Validate(string manifestPath)
    {
        // System.Text.Json leaves missing reference-typed constructor parameters null, so name the missing field here.
        static void Require(bool ok, string manifestPath, string what)
        {
            if (!ok)
            {
                throw new ModelException($"Model manifest {manifestPath}: {what}.");
            }
        }

        Require(!string.IsNullOrWhiteSpace(Name), manifestPath, "\"name\" is missing");
        Require(!string.IsNullOrWhiteSpace(File), manifestPath, "\"file\" is missing");
        Require(Sha256 is { Length: 64 }, manifestPath, "\"sha256\" must be 64 hex digits");
        Require(Size > 0, manifestPath, "\"size\" must be positive");
        Require(Input is not null, manifestPath, "\"input\" is missing");
        Require(Input!.Width > 0 && Input.Height > 0, manifestPath, "\"input\" width and height must be positive");
        Require(Input.Scale > 0, manifestPath, "\"input.scale\" must be positive");
        Require(Outputs is { Length: > 0 }, manifestPath, "\"outputs\" is missing or empty");
        Require(Decoder is not null, manifestPath, "\"decoder\" is missing");
        Require(Decoder!.Strides is { Length: > 0 }, manifestPath, "\"decoder.strides\" is missing or empty");
        Require(Decoder.ClassCount > 0, manifestPath, "\"decoder.classCount\" must be positive");
        Require(!string.IsNullOrWhiteSpace(Labels), manifestPath, "\"labels\" is missing");
        Require(ScoreThreshold is > 0 and < 1, manifestPath, "\"scoreThreshold\" must be between 0 and 1");
        Require(NmsIouThreshold is > 0 and <= 1, manifestPath, "\"nmsIouThreshold\" must be in (0, 1]");
        if (Decoder.Kind == DecoderKind.Yolov4)
        {
            Require(Outputs.Length == Decoder.Strides.Length, manifestPath, "a yolov4 decoder needs one output per stride");
            Require(Decoder.Anchors is not null && Decoder.Anchors.Length == Decoder.Strides.Length, manifestPath, "\"decoder.anchors\" needs one list per stride");
            Require(Decoder.XyScale is not null && Decoder.XyScale.Length == Decoder.Strides.Length, manifestPath, "\"decoder.xyScale\" needs one value per stride");
        }
    }
}

/// <summary>A model, its manifest or its labels cannot be used; the message says what is wrong and how to fix it.</summary>
public sealed class ModelException : Exception
{
    /// <summary>Creates the exception with a message that names the problem.</summary>
    public ModelException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public ModelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Source-generated JSON metadata for model manifests (camelCase, as the files in <c>models/</c> are written).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(ModelManifest))]
internal sealed partial class ModelManifestJsonContext : JsonSerializerContext;
