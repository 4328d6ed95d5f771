using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using GEdge.Media;
using GEdge.Vision;
using GEdge.Vision.Onnx;
using Microsoft.Extensions.Logging;

namespace GEdge.Cli.Commands;

/// <summary><c>gedge detect IMAGE</c>: finds the objects in one image and prints them as a table or JSON.</summary>
internal static class DetectCommand
{
    public static Command Create()
    {
        var image = new Argument<FileInfo>("image") { Description = "The image to look at (JPEG, PNG, ...)." };
        var json = new Option<bool>("--json") { Description = "Print a JSON array instead of a table." };
        var model = new Option<string>("--model")
        {
            Description = "The model's manifest name in the models folder.",
            DefaultValueFactory = _ => ModelCatalog.DefaultModel,
        };
        var provider = new Option<string>("--provider")
        {
            Description = "The ONNX Runtime execution provider; cuda falls back to cpu with a warning where CUDA is unavailable.",
            DefaultValueFactory = _ => "cpu",
        };
        provider.AcceptOnlyFromAmong("cpu", "cuda");
        var score = new Option<float?>("--score") { Description = "Minimum score (0..1); the model's own threshold when omitted." };
        score.Validators.Add(result =>
        {
            if (result.GetValue(score) is { } value && value is < 0 or > 1)
            {
                result.AddError($"--score must be between 0 and 1, not {value.ToString(CultureInfo.InvariantCulture)}.");
            }
        });

        var command = new Command("detect", "Find the objects in an image.") { image, json, model, provider, score };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetValue(image)!,
            parse.GetValue(json),
            parse.GetValue(model)!,
            CliModels.ParseProvider(parse.GetValue(provider)),
            parse.GetValue(score),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error,
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(
        FileInfo image, bool json, string modelName, ExecutionProvider provider, float? score, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using var loggerFactory = CliModels.CreateLoggerFactory();
        try
        {
            var info = await VideoProbe.ProbeAsync(image.FullName, cancellationToken).ConfigureAwait(false);
            if (!info.IsStillImage)
            {
                await error.WriteLineAsync($"{image.Name} is a video ({info.VideoCodec}, {info.Duration.TotalSeconds:0.##} s): detect takes one image.")
                    .ConfigureAwait(false);
                return 1;
            }

            var manifest = ModelCatalog.Load(modelName, CliModels.Directory());
            using var detector = new ObjectDetector(
                manifest, new ObjectDetectorOptions { ExecutionProvider = provider }, loggerFactory.CreateLogger<ObjectDetector>());
            var reader = new LetterboxFrameReader(manifest.Input, loggerFactory.CreateLogger<LetterboxFrameReader>());
            IReadOnlyList<Detection> detections = [];
            await foreach (var frame in reader.ReadAsync(info, cancellationToken).ConfigureAwait(false))
            {
                using (frame)
                {
                    detections = detector.Detect(frame.Span, frame.Letterbox, score);
                }
            }

            if (json)
            {
                await WriteJsonAsync(output, detections).ConfigureAwait(false);
            }
            else
            {
                await WriteTableAsync(output, image.Name, info, detections).ConfigureAwait(false);
            }

            return 0;
        }
        catch (Exception e) when (e is MediaException or ModelException)
        {
            // The input or the model is at fault: the message says which and how to fix it; no stack trace.
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 1;
        }
    }

    private static async Task WriteJsonAsync(TextWriter output, IReadOnlyList<Detection> detections)
    {
        await output.WriteLineAsync(JsonSerializer.Serialize(Detection.ForPublishing(detections), DetectJsonContext.Default.DetectionArray)).ConfigureAwait(false);
    }

    private static async Task WriteTableAsync(TextWriter output, string name, MediaInfo info, IReadOnlyList<Detection> detections)
    {
        var culture = CultureInfo.InvariantCulture;
        await output.WriteLineAsync(string.Create(culture, $"{name} ({info.Width}x{info.Height}): {detections.Count} objects")).ConfigureAwait(false);
        if (detections.Count == 0)
        {
            return;
        }

        await output.WriteLineAsync(string.Create(culture, $"{"label",-16} {"score",6} {"x",7} {"y",7} {"width",7} {"height",7}")).ConfigureAwait(false);
        foreach (var d in detections)
        {
            await output.WriteLineAsync(string.Create(
                culture, $"{d.Label,-16} {d.Score,6:0.000} {d.Box.X,7:0.0} {d.Box.Y,7:0.0} {d.Box.Width,7:0.0} {d.Box.Height,7:0.0}")).ConfigureAwait(false);
        }
    }
}

/// <summary>Source-generated JSON for the detect command's output.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(Detection[]))]
internal sealed partial class DetectJsonContext : JsonSerializerContext;
