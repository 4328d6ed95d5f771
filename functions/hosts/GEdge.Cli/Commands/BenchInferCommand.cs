using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GEdge.Media;
using GEdge.Vision;
using GEdge.Vision.Onnx;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace GEdge.Cli.Commands;

/// <summary>
/// <c>gedge bench-infer</c>: frames/s of the Infer path (tensor fill + run + decode + NMS) against a bare
/// <c>InferenceSession.Run</c> loop with the same session options on the same pre-filled tensors, in one process, so the
/// ratio shows what the project's code costs on top of ONNX Runtime itself. Decoding the clip is done before timing.
/// </summary>
internal static class BenchInferCommand
{
    // The two sides alternate in short blocks, and each frame is timed on its own: a burst of load from another process
    // then hits both sides alike, and the median frame time (the headline figure) ignores the frames it slowed.
    private const int BlockFrames = 25;
    private const int WarmupFrames = 20;

    public static Command Create()
    {
        var frames = new Option<int>("--frames") { Description = "Frames timed on each side.", DefaultValueFactory = _ => 200 };
        frames.Validators.Add(result =>
        {
            if (result.GetValue(frames) < 1)
            {
                result.AddError("--frames must be at least 1.");
            }
        });
        var provider = new Option<string>("--provider") { Description = "The ONNX Runtime execution provider.", DefaultValueFactory = _ => "cpu" };
        provider.AcceptOnlyFromAmong("cpu", "cuda");
        var model = new Option<string>("--model") { Description = "The model's manifest name.", DefaultValueFactory = _ => ModelCatalog.DefaultModel };
        var video = new Option<FileInfo?>("--video") { Description = "The clip to take frames from; the repository's tests/assets/videos/road.mp4 when omitted." };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads (0: its default).", DefaultValueFactory = _ => 0 };
        var spinning = new Option<bool>("--spinning") { Description = "Let ONNX Runtime's intra-op threads spin between runs, as it does by default (Infer does not: it shares its cores)." };

        var command = new Command("bench-infer", "Measure the Infer path against a bare ONNX Runtime loop on the same frames.")
        {
            frames, provider, model, video, threads, spinning,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetValue(frames),
            new ObjectDetectorOptions
            {
                ExecutionProvider = CliModels.ParseProvider(parse.GetValue(provider)),
                IntraOpThreads = parse.GetValue(threads),
                IntraOpSpinning = parse.GetValue(spinning),
            },
            parse.GetValue(model)!,
            parse.GetValue(video),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error,
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(
        int frameCount, ObjectDetectorOptions options, string modelName, FileInfo? video, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using var loggerFactory = CliModels.CreateLoggerFactory();
        var logger = loggerFactory.CreateLogger<ObjectDetector>();
        var clip = video?.FullName ?? CliModels.FindRepositoryFile("tests/assets/videos/road.mp4");
        if (clip is null)
        {
            await error.WriteLineAsync("No clip given and tests/assets/videos/road.mp4 was not found above the working directory: pass --video PATH.").ConfigureAwait(false);
            return 1;
        }

        List<LetterboxedFrame> frames = [];
        try
        {
            var manifest = ModelCatalog.Load(modelName, CliModels.Directory());
            using var detector = new ObjectDetector(manifest, options, logger);

            // Decode first, into memory: the benchmark measures inference, not ffmpeg.
            var info = await VideoProbe.ProbeVideoAsync(clip, cancellationToken).ConfigureAwait(false);
            await foreach (var frame in new LetterboxFrameReader(manifest.Input).ReadAsync(info, cancellationToken).ConfigureAwait(false))
            {
                frames.Add(frame);
                if (frames.Count == frameCount)
                {
                    break;
                }
            }

            using var bare = new BareSessionLoop(manifest, options, frames, logger);
            for (var i = 0; i < WarmupFrames; i++)
            {
                bare.RunOne(i);
                DetectOne(detector, frames, i);
            }

            var bareTimes = new double[frameCount];
            var detectorTimes = new double[frameCount];
            var detections = 0L;
            for (var block = 0; block < frameCount; block += BlockFrames)
            {
                var end = Math.Min(frameCount, block + BlockFrames);
                for (var i = block; i < end; i++)
                {
                    var start = Stopwatch.GetTimestamp();
                    bare.RunOne(i);
                    bareTimes[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }

                for (var i = block; i < end; i++)
                {
                    var start = Stopwatch.GetTimestamp();
                    detections += DetectOne(detector, frames, i);
                    detectorTimes[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            }

            var culture = CultureInfo.InvariantCulture;
            var bareMedian = BenchStatistics.Median(bareTimes);
            var detectorMedian = BenchStatistics.Median(detectorTimes);
            await output.WriteLineAsync(string.Create(culture,
                $"model {manifest.Name}, provider {detector.ExecutionProvider}, intra-op threads {(options.IntraOpThreads == 0 ? "default" : options.IntraOpThreads)}{(options.IntraOpSpinning ? " spinning" : "")}, "
                + $"{frameCount} frames per side ({frames.Count} distinct, from {Path.GetFileName(clip)}), alternating in blocks of {BlockFrames}")).ConfigureAwait(false);
            await output.WriteLineAsync(string.Create(culture,
                $"(b) bare InferenceSession.Run:           {1000 / bareMedian,7:0.0} frames/s  (median {bareMedian:0.00} ms/frame; throughput {frameCount / (Sum(bareTimes) / 1000):0.0} frames/s)"))
                .ConfigureAwait(false);
            await output.WriteLineAsync(string.Create(culture,
                $"(a) Infer path (fill+run+decode+NMS):    {1000 / detectorMedian,7:0.0} frames/s  (median {detectorMedian:0.00} ms/frame; throughput {frameCount / (Sum(detectorTimes) / 1000):0.0} frames/s; {detections} detections)"))
                .ConfigureAwait(false);
            var (fillMicroseconds, decodeMicroseconds) = MeasureOverhead(detector, bare, frames);
            await output.WriteLineAsync(string.Create(culture,
                $"    of which, timed apart: tensor fill {fillMicroseconds:0} us/frame, decode + NMS + mapping {decodeMicroseconds:0} us/frame"))
                .ConfigureAwait(false);
            await output.WriteLineAsync(string.Create(culture,
                $"ratio (a)/(b): {bareMedian / detectorMedian:0.000} by median frame time, {Sum(bareTimes) / Sum(detectorTimes):0.000} by throughput (goal >= 0.9)"))
                .ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is MediaException or ModelException)
        {
            // The input or the model is at fault: the message says which and how to fix it; no stack trace.
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 1;
        }
        finally
        {
            frames.ForEach(f => f.Dispose());
        }
    }

    /// <summary>The project's own work around the run, timed without ONNX Runtime: the figures least disturbed by other load.</summary>
    private static (double FillMicroseconds, double DecodeMicroseconds) MeasureOverhead(ObjectDetector detector, BareSessionLoop bare, List<LetterboxedFrame> frames)
    {
        const int Repeats = 200;
        var tensor = new float[detector.Input.FrameByteCount];
        var fill = new double[Repeats];
        for (var i = 0; i < Repeats; i++)
        {
            var start = Stopwatch.GetTimestamp();
            InputTensorWriter.Write(frames[i % frames.Count].Span, tensor, detector.Input);
            fill[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        var outputs = bare.OutputsOf(0);
        var scratch = new List<DetectionCandidate>();
        var decode = new double[Repeats];
        for (var i = 0; i < Repeats; i++)
        {
            var start = Stopwatch.GetTimestamp();
            detector.Decoder.Decode(outputs, frames[0].Letterbox, scratch: scratch);
            decode[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        return (BenchStatistics.Median(fill), BenchStatistics.Median(decode));
    }

    private static int DetectOne(ObjectDetector detector, List<LetterboxedFrame> frames, int i)
    {
        var frame = frames[i % frames.Count];
        return detector.Detect(frame.Span, frame.Letterbox).Count;
    }

    private static double Sum(double[] values)
    {
        var sum = 0.0;
        foreach (var value in values)
        {
            sum += value;
        }

        return sum;
    }

}
