using System.Diagnostics;
using System.Globalization;
using GEdge.Cli.Cluster;
using GEdge.Contracts;
using GEdge.Hosting;
using GEdge.JobTable;
using GEdge.JobTable.Embedded;
using GEdge.Media;
using GEdge.Rendering;
using GEdge.Vision;
using GEdge.Vision.Onnx;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GEdge.Cli.Commands;

/// <summary>
/// <c>gedge bench --startup</c>: what a short clip pays beyond its frames' own work, and how soon each function is ready.
/// <list type="bullet">
/// <item><c>gedge run</c> on a five-frame clip cut from the bench's video, each run a fresh process in a fresh folder, with
/// <c>--timings</c>: the wall time from the process's start to its exit, and each start-up part (median over the runs);
/// then the same in a folder that holds one earlier job (so the job table recovers a checkpoint) and in one that holds
/// <see cref="EarlierJobs"/>, as a folder that has been used for a while: what the job table's size costs is the
/// difference between those two.</item>
/// <item>The frames' own work, the physical limit beside it in the same run: the ffmpeg binary alone decoding and encoding
/// the clip with the annotated video's encoder settings (its process start included), and a bare
/// <c>InferenceSession.Run</c> loop over the clip's frames (the session loaded beforehand). The fixed cost is the wall time
/// less these; the goal is at most 1 s.</item>
/// <item>Each function as <c>gedge function NAME</c>, as a Knative pod starts it: the time from starting the process until
/// its <c>/readyz</c> answers 200 (model loaded, for Infer), on a job table server of its own; goal 1 s.</item>
/// </list>
/// </summary>
internal static class StartupBenchmark
{
    /// <summary>The frames of the clip: a handful, so that what the run costs is nearly all fixed.</summary>
    public const int ClipFrames = 5;

    /// <summary>How many ended jobs the well-used folder holds.</summary>
    public const int EarlierJobs = 1000;

    private const double GoalMs = 1000;

    // The parts of a function's start-up the table shows (gedge function --timings), as they come.
    private static readonly string[] FunctionParts = ["runtime", "host build", "host start", "readiness check", "job table connection", "model session", "first inference"];

    public static async Task<int> RunAsync(string source, int runs, string scratch, CancellationToken cancellationToken)
    {
        var clip = Path.Combine(scratch, "clip.mp4");
        await CutClipAsync(source, clip, cancellationToken).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"start-up: gedge run on the first {ClipFrames} frames of {Path.GetFileName(source)}, median of {runs} runs each; {Environment.ProcessorCount} cores"));

        var ownWork = await MeasureOwnWorkAsync(clip, cancellationToken).ConfigureAwait(false);
        var empty = new List<RunTimings>();
        var once = new List<RunTimings>();
        var used = new List<RunTimings>();
        var onceTemplate = Path.Combine(scratch, "one-job");
        var usedTemplate = Path.Combine(scratch, "many-jobs");
        await SeedEndedJobsAsync(onceTemplate, 1, cancellationToken).ConfigureAwait(false);
        await SeedEndedJobsAsync(usedTemplate, EarlierJobs, cancellationToken).ConfigureAwait(false);
        for (var run = 0; run < runs; run++)
        {
            // Alternating, so that both meet the same background load.
            empty.Add(await TimeRunAsync(clip, Path.Combine(scratch, $"empty-{run}"), cancellationToken).ConfigureAwait(false));
            once.Add(await TimeRunAsync(clip, CopyOf(onceTemplate, $"one-job-{run}"), cancellationToken).ConfigureAwait(false));
            used.Add(await TimeRunAsync(clip, CopyOf(usedTemplate, $"many-jobs-{run}"), cancellationToken).ConfigureAwait(false));
        }

        var wall = BenchStatistics.Median(empty.Select(r => r.WallMs));
        Console.WriteLine();
        Console.WriteLine($"{"gedge run, part",-28} {"at ms",8} {"took ms",8}   (each part's first occurrence; median over the runs)");
        foreach (var name in empty[0].Parts.Select(p => p.Name))
        {
            var parts = empty.Select(r => r.Parts.FirstOrDefault(p => p.Name == name)).OfType<StartupPart>().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-28} {BenchStatistics.Median(parts.Select(p => p.AtMs)),8:0} {BenchStatistics.Median(parts.Select(p => p.TookMs)),8:0}"));
        }

        var fixedMs = wall - ownWork.TotalMs;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"wall, process start to exit",-28} {"",8} {wall,8:0}"));
        Console.WriteLine();
        Console.WriteLine("the frames' own work (physical limits, same clip, same run):");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  ffmpeg alone, decode and encode with the annotated video's settings   {ownWork.FfmpegMs,6:0} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  bare InferenceSession.Run over the {ClipFrames} frames                      {ownWork.InferenceMs,6:0} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fixed cost: {wall:0} - {ownWork.TotalMs:0} = {fixedMs:0} ms; goal at most {GoalMs:0} ms: {(fixedMs <= GoalMs ? "met" : "not met")}"));
        Console.WriteLine();
        Console.WriteLine($"{"data folder",-28} {"wall ms",8} {"job table server ms",20} {"peak MiB",9}");
        foreach (var (folder, timings) in new[] { ("empty", empty), ("one earlier job", once), ($"{EarlierJobs} earlier jobs", used) })
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{folder,-28} {BenchStatistics.Median(timings.Select(r => r.WallMs)),8:0} {BenchStatistics.Median(timings.Select(r => r.Took("job table server"))),20:0} {BenchStatistics.Median(timings.Select(r => r.PeakMiB)),9:0}"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{EarlierJobs} earlier jobs against one: {BenchStatistics.Median(used.Select(r => r.WallMs)) / BenchStatistics.Median(once.Select(r => r.WallMs)):0.00} x the wall time (goal: no slower)"));
        // Run i of each folder came one after the other, so their differences pair off the machine's slow minutes; a
        // median of a handful of runs each could not tell a few tens of milliseconds from that noise.
        Console.WriteLine("against the empty folder, wall ms more (median of the rounds' paired differences [95 % interval]):");
        foreach (var (folder, timings) in new[] { ("one earlier job", once), ($"{EarlierJobs} earlier jobs", used) })
        {
            var more = BenchStatistics.Difference([.. timings.Select(r => r.WallMs)], [.. empty.Select(r => r.WallMs)]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {folder,-26} {more.Median,6:0} [{more.Low:0}, {more.High:0}]{(more.Measurable ? ": slower" : ": not measurably slower")}"));
        }

        Console.WriteLine();
        // One column per function; the first row is the goal's figure, the others what each part took (- where it has none).
        var functions = await TimeFunctionsAsync(Path.Combine(scratch, "functions"), runs, cancellationToken).ConfigureAwait(false);
        Console.WriteLine($"gedge function NAME: ms from process start to /readyz answering 200 (goal {GoalMs:0}), then each part's length; median of {runs}");
        Console.WriteLine($"{"",-24}{string.Concat(functions.Select(f => $"{f.Name,12}"))}");
        Console.WriteLine($"{"ready",-24}{string.Concat(functions.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.ReadyMs,12:0}")))}");
        foreach (var part in FunctionParts)
        {
            Console.WriteLine($"{part,-24}{string.Concat(functions.Select(f => f.Parts.Any(r => r.Any(p => p.Name == part))
                ? string.Create(CultureInfo.InvariantCulture, $"{BenchStatistics.Median(f.Parts.Select(r => r.FirstOrDefault(p => p.Name == part)?.TookMs ?? 0)),12:0}")
                : $"{"-",12}"))}");
        }

        var met = fixedMs <= GoalMs && functions.All(f => f.ReadyMs <= GoalMs);
        Console.WriteLine(met ? "all start-up goals met" : "some start-up goals not met");
        return 0;
    }

    // The first frames of the video, encoded afresh (a stream copy could not start at a keyframe-less cut), with its audio.
    private static Task<TimeSpan> CutClipAsync(string source, string clip, CancellationToken cancellationToken) =>
        BenchCommand.RunFfmpegAsync(
            source,
            ["-hide_banner", "-nostdin", "-v", "error", "-i", source, "-frames:v", ClipFrames.ToString(CultureInfo.InvariantCulture),
             "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", "-shortest", "-y", clip],
            cancellationToken,
            "cutting a clip of");

    private sealed record OwnWork(double FfmpegMs, double InferenceMs)
    {
        public double TotalMs => FfmpegMs + InferenceMs;
    }

    // Best of three each: other work on the machine only ever slows a run down.
    private static async Task<OwnWork> MeasureOwnWorkAsync(string clip, CancellationToken cancellationToken)
    {
        var writer = new AnnotatedVideoWriter(Options.Create(new AnnotatedVideoOptions()), NullLogger<AnnotatedVideoWriter>.Instance);
        var transcode = new PostprocessBenchmark(writer, NullLogger<PostprocessBenchmark>.Instance);
        var ffmpeg = double.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            ffmpeg = Math.Min(ffmpeg, (await transcode.MeasureFfmpegAloneAsync(clip, cancellationToken).ConfigureAwait(false)).Elapsed.TotalMilliseconds);
        }

        var manifest = ModelCatalog.Load(ModelCatalog.DefaultModel, CliModels.Directory());
        var media = await VideoProbe.ProbeVideoAsync(clip, cancellationToken).ConfigureAwait(false);
        var frames = new List<LetterboxedFrame>();
        try
        {
            await foreach (var frame in new LetterboxFrameReader(manifest.Input).ReadAsync(media, cancellationToken).ConfigureAwait(false))
            {
                frames.Add(frame);
            }

            // The physical limit: ONNX Runtime as it comes (its threads spinning, which Infer turns off to share its cores).
            using var bare = new BareSessionLoop(manifest, new ObjectDetectorOptions { IntraOpSpinning = true }, frames, NullLogger.Instance);
            bare.RunOne(0);
            var inference = double.MaxValue;
            for (var i = 0; i < 3; i++)
            {
                var clock = Stopwatch.StartNew();
                for (var f = 0; f < frames.Count; f++)
                {
                    bare.RunOne(f);
                }

                inference = Math.Min(inference, clock.Elapsed.TotalMilliseconds);
            }

            return new OwnWork(ffmpeg, inference);
        }
        finally
        {
            frames.ForEach(f => f.Dispose());
        }
    }

    private sealed record RunTimings(double WallMs, IReadOnlyList<StartupPart> Parts, double PeakMiB)
    {
        public double Took(string part) => Parts.FirstOrDefault(p => p.Name == part)?.TookMs ?? 0;
    }

    // `gedge run CLIP --timings` as a user runs it: its own process, in the folder (its .gedge data and out/ there).
    private static async Task<RunTimings> TimeRunAsync(string clip, string folder, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        var timings = Path.Combine(folder, "timings.json");
        var start = new ProcessStartInfo(GedgeCommand.FileName)
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in GedgeCommand.Arguments("run", clip, "--out", "out", "--timings", timings))
        {
            start.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("gedge run could not be started.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        var wall = clock.Elapsed.TotalMilliseconds;
        var printed = await output.ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"gedge run on the clip failed ({process.ExitCode}): {await errors.ConfigureAwait(false)}");
        }

        var peak = printed.Split('\n').Select(line => line.Trim()).FirstOrDefault(line => line.StartsWith("peak memory ", StringComparison.Ordinal)) is { } line
            ? double.Parse(line.Split(' ')[2], CultureInfo.InvariantCulture)
            : 0;
        return new RunTimings(wall, await StartupTimeline.ReadAsync(timings, cancellationToken).ConfigureAwait(false), peak);
    }

    // A folder a user has run gedge in: ended jobs of two segments each, made by the job table's own scripts (created,
    // claimed, cut, ended), in the embedded job table's default place under it.
    private static async Task SeedEndedJobsAsync(string folder, int jobs, CancellationToken cancellationToken)
    {
        var options = new EmbeddedGarnetOptions { DataPath = Path.Combine(folder, new EmbeddedGarnetOptions().DataPath) };
        await using var server = EmbeddedGarnetServer.Start(options);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString).ConfigureAwait(false);
        var table = new JobTable.JobTable(connection, Options.Create(new JobTableOptions()), TimeProvider.System, new GEdge.Metrics.GEdgeMetrics(), NullLogger<JobTable.JobTable>.Instance);
        double[] starts = [0, 10];
        for (var i = 0; i < jobs; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var id = (await table.CreateAsync(new NewJob("local", $"uploads/local/earlier-{i}/clip.mp4", "mp4", $"earlier-{i}")).ConfigureAwait(false)).Job.Id;
            await table.TryClaimAsync(id, JobStatus.Preprocessing).ConfigureAwait(false);
            await table.SplitAsync(id, starts, new Dictionary<string, string>(StringComparer.Ordinal) { ["frames"] = "5" }).ConfigureAwait(false);
            await table.ExitWithErrorAsync(id, "an earlier run's job").ConfigureAwait(false);
        }
    }

    // A fresh copy of a seeded folder, so that every run finds the same jobs there.
    private static string CopyOf(string template, string name)
    {
        var copy = Path.Combine(Path.GetDirectoryName(template)!, name);
        foreach (var file in Directory.EnumerateFiles(template, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(template, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        return copy;
    }

    // Each function started as serve starts it, against a job table server of its own; the time from the start until
    // /readyz first answers 200, polled every 5 ms.
    private static async Task<List<(string Name, double ReadyMs, List<IReadOnlyList<StartupPart>> Parts)>> TimeFunctionsAsync(string folder, int runs, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        await using var server = EmbeddedGarnetServer.Start(new EmbeddedGarnetOptions { DataPath = Path.Combine(folder, "garnet") });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var results = new List<(string, double, List<IReadOnlyList<StartupPart>>)>();
        foreach (var function in ClusterFunction.All)
        {
            var times = new List<double>();
            var parts = new List<IReadOnlyList<StartupPart>>();
            for (var run = 0; run < runs; run++)
            {
                var url = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{ClusterPorts.FreeLoopbackPort()}/"));
                var environment = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    [$"{JobTableOptions.SectionName}__{nameof(JobTableOptions.ConnectionString)}"] = server.ConnectionString,
                    ["Storage__Local__Root"] = Path.Combine(folder, "storage"),
                    // Where its events would go; none is sent while it starts.
                    ["Events__Sink"] = "http://127.0.0.1:9/",
                };
                var timings = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{function.Name}-{run}.json"));
                var process = ClusterProcess.Start(function.Name, GedgeCommand.FileName, GedgeCommand.Arguments("function", function.Name, "--urls", url.ToString(), "--timings", timings), environment,
                    Path.Combine(folder, function.Name + ".log"));
                await using (process.ConfigureAwait(false))
                {
                    var probe = new Uri(url, FunctionRoutes.Readiness);
                    var ready = await process.WaitUntilReadyAsync(
                        async token =>
                        {
                            try
                            {
                                using var response = await http.GetAsync(probe, token).ConfigureAwait(false);
                                return response.IsSuccessStatusCode;
                            }
                            catch (HttpRequestException)
                            {
                                return false;
                            }
                        },
                        TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
                    var elapsed = (DateTimeOffset.UtcNow - process.StartedAt).TotalMilliseconds;
                    if (!ready)
                    {
                        throw new InvalidOperationException($"{function.Name} was not ready within 60 s; see {process.LogPath}.");
                    }

                    times.Add(elapsed);
                    // Stopped as a kubelet stops it; it writes its parts as it ends.
                    await process.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                    parts.Add(await StartupTimeline.ReadAsync(timings, cancellationToken).ConfigureAwait(false));
                }
            }

            results.Add((function.Name, BenchStatistics.Median(times), parts));
        }

        return results;
    }
}
