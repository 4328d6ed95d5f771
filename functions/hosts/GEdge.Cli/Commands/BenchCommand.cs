using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GEdge.Cli.Cluster;
using GEdge.Contracts;
using GEdge.Gateway;
using GEdge.JobTable;
using GEdge.Media;
using GEdge.Preprocess;
using GEdge.Rendering;
using GEdge.Stages;
using GEdge.Vision;
using GEdge.Vision.Onnx;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GEdge.Cli.Commands;

/// <summary>
/// <c>gedge bench</c>: each stage's frames/s beside its physical limit on the same file, in one run, and the whole job
/// beside the sum of the limits. The limits: the ffmpeg binary alone decoding, scaling and padding to rawvideo (what
/// Preprocess asks of it), a bare <c>InferenceSession.Run</c> loop on pre-filled tensors (Infer), and the ffmpeg binary
/// alone decoding and encoding with the stage's encoder settings (Postprocess). The project's figures are the stage
/// times the job table records for a real job run by the embedded pipeline, so they include everything a stage does.
/// </summary>
internal static class BenchCommand
{
    // The bare loop runs over frames decoded into memory first; this many is plenty for a stable rate.
    private const int InferLimitFrames = 150;

    public static Command Create()
    {
        var video = new Argument<FileInfo?>("video")
        {
            Description = "The video to measure on (default: tests/assets/videos/walking.mp4 looped to about a minute).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var rounds = new Option<int>("--rounds") { Description = "Rounds of limits-then-job; each side's best round counts.", DefaultValueFactory = _ => 2 };
        var serve = new Option<string>("--serve")
        {
            Description = "Also run the job on `gedge serve` with each of these counts of processes per CPU stage (preprocess and postprocess; infer keeps one), e.g. 1,2,3; 'none' skips it.",
            DefaultValueFactory = _ => "1,2,3",
        };
        serve.Validators.Add(result =>
        {
            if (ParseProcessCounts(result.GetValue(serve)) is null)
            {
                result.AddError("--serve takes counts of processes from 1 to 16, comma-separated (1,2,3), or 'none'.");
            }
        });
        var startup = new Option<bool>("--startup")
        {
            Description = $"Measure start-up instead: gedge run on the video's first {StartupBenchmark.ClipFrames} frames in parts, its fixed cost beside the frames' own work, " +
                $"the same in folders of one and of {StartupBenchmark.EarlierJobs} earlier jobs, and each function's time to /readyz in parts (2 x rounds + 1 runs each).",
        };
        var telemetry = new Option<bool>("--telemetry")
        {
            Description = "Measure telemetry's cost instead: the job with traces exported over OTLP against the job without, alternately (2 x rounds + 1 runs each), and the metrics' updates.",
        };
        var scaleToZero = new Option<bool>("--scale-to-zero")
        {
            Description = "Measure cold starts instead: the video (default: 20 s of walking.mp4 at 1080p) on gedge serve --scale-to-zero with the stage warm-ups and without: " +
                "the upload to the first inference, the first segment's wait for Infer against Infer's cold start (in parts), memory, the time back to zero processes, and what the session cache saves a cold start (--cold-starts).",
        };
        var coldStarts = new Option<int>("--cold-starts")
        {
            Description = "With --scale-to-zero: pairs of Infer cold starts on an idle node, without and then with the session cache, from which what the cache saves is given.",
            DefaultValueFactory = _ => ScaleToZeroBenchmark.DefaultColdStartPairs,
        };
        coldStarts.Validators.Add(result =>
        {
            if (result.GetValue(coldStarts) is < 1 or > ScaleToZeroBenchmark.MaxColdStartPairs)
            {
                result.AddError($"--cold-starts takes 1 to {ScaleToZeroBenchmark.MaxColdStartPairs} pairs.");
            }
        });
        var command = new Command("bench", "Measure each stage against its physical limit on the same video, and the whole job against their sum.")
        {
            video, rounds, serve, startup, telemetry, scaleToZero, coldStarts,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetValue(video), Math.Max(1, parse.GetValue(rounds)), ParseProcessCounts(parse.GetValue(serve))!, parse.GetValue(startup), parse.GetValue(telemetry),
            parse.GetValue(scaleToZero) ? parse.GetValue(coldStarts) : null, cancellationToken));
        return command;
    }

    /// <summary>Reads <c>--serve</c>: counts of processes from 1 to 16, comma-separated, each once; empty or <c>none</c> for none; null when not that.</summary>
    internal static IReadOnlyList<int>? ParseProcessCounts(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Trim() == "none")
        {
            return [];
        }

        var counts = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is < 1 or > 16)
            {
                return null;
            }

            if (!counts.Contains(count))
            {
                counts.Add(count);
            }
        }

        return counts;
    }

    private static async Task<int> RunAsync(
        FileInfo? video, int rounds, IReadOnlyList<int> serveProcesses, bool startup, bool telemetry, int? scaleToZeroPairs, CancellationToken cancellationToken)
    {
        var scratch = Directory.CreateTempSubdirectory("gedge-bench-");
        try
        {
            if (scaleToZeroPairs is { } pairs)
            {
                return await ScaleToZeroBenchmark.RunAsync(video?.FullName, scratch.FullName, pairs, cancellationToken).ConfigureAwait(false);
            }

            if (startup)
            {
                // A few frames of it is all the start-up view needs, so the sample is not looped.
                var source = video?.FullName ?? CliModels.FindRepositoryFile("tests/assets/videos/walking.mp4");
                return source is null || !File.Exists(source)
                    ? RunCommand.Fail("no video to cut a clip from: pass one (the default sample, tests/assets/videos/walking.mp4, is not above the working directory).")
                    : await StartupBenchmark.RunAsync(source, (2 * rounds) + 1, scratch.FullName, cancellationToken).ConfigureAwait(false);
            }

            var clip = video?.FullName ?? await LoopedSampleAsync(scratch.FullName, cancellationToken).ConfigureAwait(false);
            if (clip is null || !File.Exists(clip))
            {
                return RunCommand.Fail("no video to measure: pass one (the default sample, tests/assets/videos/walking.mp4, is not above the working directory).");
            }

            return telemetry
                ? await TelemetryBenchmark.RunAsync(clip, (2 * rounds) + 1, scratch.FullName, cancellationToken).ConfigureAwait(false)
                : await MeasureAsync(clip, rounds, serveProcesses, scratch.FullName, cancellationToken).ConfigureAwait(false);
        }
        catch (ClusterStartException e)
        {
            // As serve says it: the reason, in one line, not a stack trace.
            return RunCommand.Fail($"the local cluster for --serve could not start: {e.Message}");
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    private static async Task<int> MeasureAsync(string clip, int rounds, IReadOnlyList<int> serveProcesses, string scratch, CancellationToken cancellationToken)
    {
        var manifest = ModelCatalog.Load(ModelCatalog.DefaultModel, CliModels.Directory());
        var media = await VideoProbe.ProbeVideoAsync(clip, cancellationToken).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileName(clip)}: {media.Width}x{media.Height}, {media.FrameRate} fps, ~{media.EstimatedFrameCount} frames; model {manifest.Name}; {Environment.ProcessorCount} cores; best of {rounds} rounds"));

        // On a shared machine other work only ever slows a run down, so each side keeps its best round; limits and job
        // alternate so that both meet the same background load.
        var stages = new[] { JobStatus.Preprocessing, JobStatus.Inferencing, JobStatus.Postprocessing };
        var limitFps = new double[stages.Length];
        var projectFps = new double[stages.Length];
        var wallSeconds = double.MaxValue;
        var firstSegmentSeconds = double.MaxValue;
        var longestRequest = 0.0;
        var served = serveProcesses.ToDictionary(count => count, _ => (Seconds: double.MaxValue, Longest: 0.0));
        var segmentCount = 0;

        // The frame boundary (issue: compact stage boundaries): the same job with the frames crossing raw, in the same
        // round, for the bytes per frame and the two stages' rates beside the compact form's.
        var rawPathFps = new double[2];
        var rawWallSeconds = double.MaxValue;
        var compactBytes = 0.0;
        var rawBytes = 0.0;
        var writer = new AnnotatedVideoWriter(Options.Create(new AnnotatedVideoOptions()), NullLogger<AnnotatedVideoWriter>.Instance);
        var transcode = new PostprocessBenchmark(writer, NullLogger<PostprocessBenchmark>.Instance);
        for (var round = 0; round < rounds; round++)
        {
            var (encoded, encodeElapsed) = await transcode.MeasureFfmpegAloneAsync(clip, cancellationToken).ConfigureAwait(false);
            double[] limits =
            [
                await MeasureLetterboxAloneAsync(clip, media, manifest.Input, cancellationToken).ConfigureAwait(false),
                await MeasureBareSessionAsync(media, manifest, cancellationToken).ConfigureAwait(false),
                encoded / encodeElapsed.TotalSeconds,
            ];
            var run = await RunJobAsync(clip, Path.Combine(scratch, $"round-{round}"), rawFrames: false, cancellationToken).ConfigureAwait(false);
            var frames = int.Parse(run.Job.Fields["frames"], CultureInfo.InvariantCulture);
            var rawRun = await RunJobAsync(clip, Path.Combine(scratch, $"round-{round}-raw"), rawFrames: true, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < rawPathFps.Length; i++)
            {
                rawPathFps[i] = Math.Max(rawPathFps[i], frames / rawRun.Timings[stages[i].ToString()]);
            }

            rawWallSeconds = Math.Min(rawWallSeconds, rawRun.Seconds);
            compactBytes = run.FrameBytes / (double)frames;
            rawBytes = rawRun.FrameBytes / (double)frames;
            for (var i = 0; i < stages.Length; i++)
            {
                // A stage's work is its seconds summed over the segments; with stages overlapping on shared cores, each
                // segment's seconds include the wait for a core, so this is the stage's rate as the job ran it.
                var stageSeconds = run.Timings[stages[i].ToString()];
                limitFps[i] = Math.Max(limitFps[i], limits[i]);
                projectFps[i] = Math.Max(projectFps[i], frames / stageSeconds);
            }

            wallSeconds = Math.Min(wallSeconds, run.Seconds);
            firstSegmentSeconds = Math.Min(firstSegmentSeconds, run.FirstSegmentSeconds);
            longestRequest = Math.Max(longestRequest, run.Timings[JobView.LongestTiming]);
            segmentCount = run.Segments.Count;
            foreach (var processes in serveProcesses)
            {
                var (seconds, longest) = await RunOnClusterAsync(clip, processes, Path.Combine(scratch, $"serve-{round}-{processes}"), cancellationToken).ConfigureAwait(false);
                served[processes] = (Math.Min(served[processes].Seconds, seconds), Math.Max(served[processes].Longest, longest));
            }
        }

        var framesTotal = media.EstimatedFrameCount;
        var rows = new (string Stage, double Goal, string Limit)[]
        {
            ("Preprocess", 0.8, "ffmpeg decode+scale+pad to rawvideo"),
            ("Infer", 0.9, "bare InferenceSession.Run loop"),
            ("Postprocess", 0.7, "ffmpeg decode+encode, same settings"),
        };
        Console.WriteLine();
        Console.WriteLine($"{"stage",-12} {"project",14} {"limit",14} {"ratio",6} {"goal",5}  limit measured as");
        var limitSeconds = 0.0;
        var met = true;
        for (var i = 0; i < rows.Length; i++)
        {
            var (stage, goal, limit) = rows[i];
            var ratio = projectFps[i] / limitFps[i];
            limitSeconds += framesTotal / limitFps[i];
            met &= ratio >= goal;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{stage,-12} {projectFps[i],10:0.0} f/s {limitFps[i],10:0.0} f/s {ratio,6:0.00} {goal,5:0.0}  {limit}"));
        }

        // Segments let the stages overlap, so the whole job may beat the sum of the stages' limits; on a machine with
        // fewer cores than stages at work, the cores bound the overlap.
        var budget = 1.1 * limitSeconds;
        met &= wallSeconds <= budget;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"whole job    {wallSeconds,10:0.00} s   sum of limits {limitSeconds:0.00} s; goal: within 1.1 x sum = {budget:0.00} s ({wallSeconds / limitSeconds:0.00} x the sum)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"first result {firstSegmentSeconds,10:0.00} s   from upload to the first of {segmentCount} segments postprocessed ({firstSegmentSeconds / wallSeconds:0.00} of the whole job)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"longest request {longestRequest,7:0.00} s   the longest single stage request (cut, one segment's stage, or join): what a request timeout must allow"));
        if (served.Count > 0)
        {
            // Each count starts a fresh local cluster (redis-server or Garnet, the broker, every function a process) and
            // runs the same job on it through the API, timed by the job's own record, from upload to Exit.
            Console.WriteLine();
            Console.WriteLine($"gedge serve: processes per CPU stage (preprocess and postprocess; infer one), {Environment.ProcessorCount} cores");
            Console.WriteLine($"{"processes",-10} {"whole job",12} {"vs run",7} {"longest request",16}");
            foreach (var (processes, (seconds, longest)) in served)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{processes,-10} {seconds,10:0.00} s {seconds / wallSeconds,7:0.00} {longest,14:0.00} s"));
            }
        }

        // The compact boundary against raw frames: bytes per frame (goal a tenth of raw) and the rates of the two stages
        // that write and read it (goal 0.9 of the raw path's), each stage's rate taken as above.
        Console.WriteLine();
        Console.WriteLine($"frame boundary (Preprocess to Infer): {new PreprocessOptions().FrameCodec} against raw frames, same job, same rounds");
        // Its rows are indented, to be told from the stage rows above.
        Console.WriteLine($"  {"",-12} {"compact",14} {"raw",14} {"ratio",6} {"goal",5}");
        var bytesRatio = compactBytes / rawBytes;
        met &= bytesRatio <= 0.1;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {"bytes/frame",-12} {compactBytes,12:0} B {rawBytes,12:0} B {bytesRatio,6:0.000} {"<=0.1",5}"));
        for (var i = 0; i < rawPathFps.Length; i++)
        {
            var ratio = projectFps[i] / rawPathFps[i];
            met &= ratio >= 0.9;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {rows[i].Stage,-12} {projectFps[i],10:0.0} f/s {rawPathFps[i],10:0.0} f/s {ratio,6:0.00} {">=0.9",5}"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {"whole job",-12} {wallSeconds,12:0.00} s {rawWallSeconds,12:0.00} s {wallSeconds / rawWallSeconds,6:0.00}"));
        Console.WriteLine(met ? "all goals met" : "some goals not met");
        return 0;
    }

    // One job through the embedded pipeline, as a user runs it, in its own scratch folder; timed from upload to Exit, and
    // to the first segment postprocessed (the first result a user could see).
    // rawFrames: the frames cross from Preprocess to Infer raw rather than compact (FrameCodec.Raw). extra: more settings
    // (the telemetry benchmark's OTLP variables).
    internal static async Task<JobRun> RunJobAsync(
        string clip, string folder, bool rawFrames, CancellationToken cancellationToken, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>(extra ?? new Dictionary<string, string?>())
        {
            ["JobTable:Embedded:DataPath"] = Path.Combine(folder, "garnet"),
            ["Storage:Local:Root"] = Path.Combine(folder, "storage"),
        };
        if (rawFrames)
        {
            settings["Preprocess:FrameCodec"] = nameof(FrameCodec.Raw);
        }

        await using var pipeline = await EmbeddedPipeline.StartAsync(new ConsoleProgress(), settings, cancellationToken: cancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var jobId = await pipeline.SubmitAsync(clip, "bench", cancellationToken).ConfigureAwait(false);
        var job = await pipeline.WaitForExitAsync(jobId, cancellationToken).ConfigureAwait(false);
        var seconds = clock.Elapsed.TotalSeconds;
        if (job.Error is not null)
        {
            throw new InvalidOperationException($"The benchmark job failed: {job.Error}");
        }

        var firstDone = (await pipeline.Jobs.GetSegmentHistoryAsync(jobId).ConfigureAwait(false))
            .Where(t => t.Status == PipelineTopology.Last.Completes)
            .Min(t => t.Time);
        var firstSegment = (firstDone - job.CreatedTime!.Value).TotalSeconds;
        var segments = await pipeline.Jobs.GetSegmentsAsync(jobId).ConfigureAwait(false);
        var frameBytes = segments.Sum(segment => long.Parse(segment.Fields[PreprocessWork.FrameBytesField], CultureInfo.InvariantCulture));
        return new JobRun(job, segments, seconds, firstSegment, JobView.Of(job, [], segments, "").Timings, frameBytes);
    }

    // Timings: the job's as the API gives them (JobView), each stage's seconds summed over its segments and the longest
    // request. FrameBytes: what the frames took in the work bucket between Preprocess and Infer, over every segment.
    internal sealed record JobRun(Job Job, IReadOnlyList<JobSegment> Segments, double Seconds, double FirstSegmentSeconds, IReadOnlyDictionary<string, double> Timings, long FrameBytes);

    // One job on a fresh `gedge serve` with `processes` processes for each CPU stage, submitted and followed through the
    // API as `gedge submit` does; the whole job and the longest request as the job's record gives them.
    private static async Task<(double Seconds, double Longest)> RunOnClusterAsync(string clip, int processes, string folder, CancellationToken cancellationToken)
    {
        var options = new LocalClusterOptions(0, DuplicateDeliveries: false, folder)
        {
            Scale = new Dictionary<string, int>(StringComparer.Ordinal) { ["preprocess"] = processes, ["postprocess"] = processes },
        };
        await using var cluster = await LocalCluster.StartAsync(options, TextWriter.Null, cancellationToken).ConfigureAwait(false);
        using var http = new HttpClient { BaseAddress = cluster.Gateway, Timeout = Timeout.InfiniteTimeSpan };
        var gateway = new GatewayClient(http, cluster.ApiKey);
        var job = await gateway.WaitForExitAsync(
            await gateway.SubmitAsync(new FileInfo(clip), cancellationToken).ConfigureAwait(false), onStep: null, cancellationToken).ConfigureAwait(false);

        return job.Job.TryGetValue(JobFields.Error, out var error)
            ? throw new InvalidOperationException($"The benchmark job on gedge serve ({processes} processes per CPU stage) failed: {error}")
            : (job.Timings[JobView.TotalTiming], job.Timings[JobView.LongestTiming]);
    }

    // The committed sample is 13.6 s; looped (stream copy, no re-encoding) to about a minute, fixed costs such as probing
    // weigh on the ratios no more than they do on real uploads.
    private static async Task<string?> LoopedSampleAsync(string scratch, CancellationToken cancellationToken)
    {
        var sample = CliModels.FindRepositoryFile("tests/assets/videos/walking.mp4");
        if (sample is null)
        {
            return null;
        }

        var looped = Path.Combine(scratch, "walking-x4.mp4");
        await RunFfmpegAsync(sample, ["-v", "error", "-stream_loop", "3", "-i", sample, "-c", "copy", "-y", looped], cancellationToken).ConfigureAwait(false);
        return looped;
    }

    /// <summary>Runs the ffmpeg binary with <paramref name="arguments"/> to its end; its wall time, or its failure while <paramref name="doing"/> <paramref name="video"/>.</summary>
    internal static async Task<TimeSpan> RunFfmpegAsync(string video, IReadOnlyList<string> arguments, CancellationToken cancellationToken, string doing = "measuring")
    {
        var clock = Stopwatch.StartNew();
        using var ffmpeg = FfmpegProcess.Start("benchmark", video, arguments);
        var exitCode = await ffmpeg.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        var elapsed = clock.Elapsed;
        return exitCode == 0 ? elapsed : throw ffmpeg.Failure(exitCode, doing);
    }

    // Preprocess's ffmpeg command exactly, minus the showinfo filter (which only reports timestamps) and writing to
    // /dev/null instead of the pipe the stage reads.
    private static async Task<double> MeasureLetterboxAloneAsync(string clip, MediaInfo media, ModelInput input, CancellationToken cancellationToken)
    {
        var arguments = LetterboxFrameReader.BuildArguments(clip, input.LetterboxFor(media.Width, media.Height), input).ToList();
        var graph = arguments.IndexOf("-vf") + 1;
        arguments[graph] = arguments[graph][..arguments[graph].IndexOf(",showinfo", StringComparison.Ordinal)];
        arguments[^1] = "/dev/null";
        arguments.Insert(arguments.Count - 1, "-y");
        var elapsed = await RunFfmpegAsync(clip, arguments, cancellationToken).ConfigureAwait(false);
        return media.EstimatedFrameCount / elapsed.TotalSeconds;
    }

    private static async Task<double> MeasureBareSessionAsync(MediaInfo media, ModelManifest manifest, CancellationToken cancellationToken)
    {
        var frames = new List<LetterboxedFrame>();
        try
        {
            await foreach (var frame in new LetterboxFrameReader(manifest.Input).ReadAsync(media, cancellationToken).ConfigureAwait(false))
            {
                frames.Add(frame);
                if (frames.Count == InferLimitFrames)
                {
                    break;
                }
            }

            // The physical limit: ONNX Runtime as it comes (its threads spinning, which Infer turns off to share its cores).
            using var bare = new BareSessionLoop(manifest, new ObjectDetectorOptions { IntraOpSpinning = true }, frames, NullLogger.Instance);
            bare.RunOne(0);
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < frames.Count; i++)
            {
                bare.RunOne(i);
            }

            return frames.Count / clock.Elapsed.TotalSeconds;
        }
        finally
        {
            frames.ForEach(f => f.Dispose());
        }
    }
}
