using System.Diagnostics;
using System.Globalization;
using GEdge.Cli.Cluster;
using GEdge.Contracts;
using GEdge.Gateway;
using GEdge.JobTable;
using GEdge.Jobs;

namespace GEdge.Cli.Commands;

/// <summary>
/// <c>gedge bench --scale-to-zero</c>: what a stage's cold start costs a job, and how much of Infer's the warm-up hides.
/// The same video on two fresh <c>gedge serve --scale-to-zero</c> clusters, one with the stage warm-ups and one without
/// (<c>Stages__WarmNextStage=false</c>); on each, from the job's own history: the upload to the first inference's start,
/// and how long the first segment, once preprocessed, waited for Infer, split into the wait before Infer's first process
/// was ready (goal with warm-ups: under 10 % of Infer's cold start) and the wait for a core after (the broker's
/// <c>--cores</c> limit: on a small machine preprocessing may hold every core); Infer's cold start (the process's start to its readiness probe's 200, the model loaded) and its parts. Then,
/// on each cluster: the stage processes' peak memory, the time from the job's end until no stage process runs (the idle
/// window and the stop), and a second job on it, every stage from zero again (its Infer loads the optimized model the
/// first one cached, but beside a job's work its cold start is too noisy to say what the cache saved). That is measured
/// beforehand, on an idle node: Infer started by a warm-up event alone, alternately with its session cache emptied and
/// filled, in pairs (<c>--cold-starts</c>), and what the cache saves given as the median of the pairs' differences with
/// a 95 % bootstrap interval, for the whole cold start and each part.
/// </summary>
internal static class ScaleToZeroBenchmark
{
    private const double Goal = 0.10;

    /// <summary>The idle window of the clusters measured: short, so the bench does not wait half a minute twice.</summary>
    private static readonly TimeSpan s_idleWindow = TimeSpan.FromSeconds(3);

    private static readonly string[] s_parts = ["runtime", "host build", "model session", "first inference", "job table connection", "host start", "readiness check"];

    /// <summary>
    /// Pairs of idle-node cold starts (without, then with the session cache) unless told otherwise: on 2 cores with
    /// yolox_nano the cache saves 10-15 ms of about 420, and 60 pairs left that difference's 95 % interval touching zero
    /// ([0, 22] ms) where 100 put it clear of it ([5, 20] ms), in about 8 minutes.
    /// </summary>
    public const int DefaultColdStartPairs = 100;

    /// <summary>The most pairs --cold-starts takes (about 40 minutes on 2 cores).</summary>
    public const int MaxColdStartPairs = 500;

    public static async Task<int> RunAsync(string? video, string scratch, int coldStartPairs, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(coldStartPairs, 1);
        var clip = video ?? await MakeClipAsync(scratch, cancellationToken).ConfigureAwait(false);
        if (clip is null)
        {
            return RunCommand.Fail("no video to measure: pass one (the default sample, tests/assets/videos/walking.mp4, is not above the working directory).");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"scale to zero: {Path.GetFileName(clip)} on gedge serve --scale-to-zero (idle window {s_idleWindow.TotalSeconds} s), stage warm-ups on and off; {Environment.ProcessorCount} cores"));
        var quiet = await MeasureQuietColdStartsAsync(Path.Combine(scratch, "quiet"), coldStartPairs, cancellationToken).ConfigureAwait(false);
        var on = await MeasureAsync(clip, warmups: true, Path.Combine(scratch, "warm-ups-on"), cancellationToken).ConfigureAwait(false);
        var off = await MeasureAsync(clip, warmups: false, Path.Combine(scratch, "warm-ups-off"), cancellationToken).ConfigureAwait(false);

        Console.WriteLine();
        Console.WriteLine($"{"",-44} {"warm-ups on",12} {"warm-ups off",12}");
        Row("upload to the first inference's start", on.ToFirstInference, off.ToFirstInference, "s");
        Row("first segment's preprocessing", on.FirstPreprocess, off.FirstPreprocess, "s");
        Row("first segment waited for Infer", on.FirstWait, off.FirstWait, "s");
        Row("  of which for Infer to be ready", on.WaitForReady, off.WaitForReady, "s");
        Row("  of which for a core (Infer ready)", on.FirstWait - on.WaitForReady, off.FirstWait - off.WaitForReady, "s");
        Row("Infer's cold start (start to ready)", on.InferColdStart.ToReady.TotalSeconds, off.InferColdStart.ToReady.TotalSeconds, "s");
        Row("wait for Infer to be ready / cold start", on.WaitForReady / on.InferColdStart.ToReady.TotalSeconds, off.WaitForReady / off.InferColdStart.ToReady.TotalSeconds, Ratio);
        Row("whole job", on.JobSeconds, off.JobSeconds, "s");
        Row("stage processes' peak memory", on.PeakStageMiB, off.PeakStageMiB, "MiB");
        Row("job's end to no stage process", on.ToZero, off.ToZero, "s");
        Row("stage processes after the idle window", on.ProcessesAfter, off.ProcessesAfter, "processes");
        Row("second job's Infer cold start (from zero)", on.SecondInferColdStart.ToReady.TotalSeconds, off.SecondInferColdStart.ToReady.TotalSeconds, "s");

        Console.WriteLine();
        Console.WriteLine("Infer's cold start in parts, ms (gedge function --timings; warm-ups on: the first job's, then the second's)");
        foreach (var part in s_parts)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {part,-24} {Part(on.FirstParts, part),8} {Part(on.SecondParts, part),8}"));
        }

        // The goal is on the part of the wait that is Infer's cold start; a wait for one of the node's cores once Infer is
        // ready (the broker's --cores limit, preprocessing holding both cores of a small machine) is no cold start.
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Infer's cold start on an idle node (a warm-up alone starts it; {coldStartPairs} pairs, alternating), ms: median without the session cache, with it, and what it saves (median of the pairs' differences [95 % interval])"));
        Console.WriteLine(QuietRow("start to ready", quiet.Select(p => (p.Uncached.ToReady.TotalMilliseconds, p.Cached.ToReady.TotalMilliseconds)).ToList()));
        Console.WriteLine(QuietRow(OwnClock, quiet.Select(p => (p.UncachedParts[OwnClock], p.CachedParts[OwnClock])).ToList()));
        foreach (var part in s_parts)
        {
            Console.WriteLine(QuietRow(part, quiet.Select(p => (p.UncachedParts.GetValueOrDefault(part), p.CachedParts.GetValueOrDefault(part))).ToList()));
        }

        // Judged on the process's own clock: "start to ready" is when the autoscaler's probe, sent every 50 ms, first
        // found it ready, so it carries up to 50 ms of the probe's beat, more than the cache can save on a CPU.
        var saved = BenchStatistics.Difference([.. quiet.Select(p => p.UncachedParts[OwnClock])], [.. quiet.Select(p => p.CachedParts[OwnClock])]);
        Console.WriteLine(saved.Measurable
            ? string.Create(CultureInfo.InvariantCulture, $"with the session cache Infer's cold start is measurably faster: {saved.Median:0} ms [{saved.Low:0}, {saved.High:0}] less")
            : string.Create(CultureInfo.InvariantCulture, $"with the session cache Infer's cold start is not measurably faster: {saved.Median:0} ms [{saved.Low:0}, {saved.High:0}], within the noise"));

        var ratio = on.WaitForReady / on.InferColdStart.ToReady.TotalSeconds;
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"with warm-ups the first segment waited for Infer to be ready {ratio:0.0 %} of its cold start (goal < {Goal:0 %}); without, {off.WaitForReady / off.InferColdStart.ToReady.TotalSeconds:0.0 %}"));
        Console.WriteLine(ratio < Goal ? "goal met" : "goal not met");
        return 0;
    }

    // A row of figures; a ratio (no unit) as a percentage.
    private static void Row(string name, double on, double off, string unit) => Console.WriteLine(unit == Ratio
        ? string.Create(CultureInfo.InvariantCulture, $"{name,-44} {on,12:0.0 %} {off,12:0.0 %}")
        : string.Create(CultureInfo.InvariantCulture, $"{name,-44} {on,12:0.00} {off,12:0.00} {unit}"));

    private const string Ratio = "";

    private static string Part(IReadOnlyList<StartupPart> parts, string name) =>
        parts.FirstOrDefault(p => p.Name == name) is { } part ? part.TookMs.ToString("0", CultureInfo.InvariantCulture) : "-";

    // Process start to ready but for the readiness probe's arrival, by the process's own timeline.
    private const string OwnClock = "start to ready (own clock)";

    // One idle-node pair: Infer's cold start with its session cache emptied, then with it filled, and the parts of each.
    private sealed record QuietPair(ColdStart Uncached, IReadOnlyDictionary<string, double> UncachedParts, ColdStart Cached, IReadOnlyDictionary<string, double> CachedParts);

    private static string QuietRow(string name, IReadOnlyList<(double Uncached, double Cached)> pairs)
    {
        var saved = BenchStatistics.Difference([.. pairs.Select(p => p.Uncached)], [.. pairs.Select(p => p.Cached)]);
        return string.Create(CultureInfo.InvariantCulture,
            $"  {name,-28} {BenchStatistics.Median(pairs.Select(p => p.Uncached)),8:0} {BenchStatistics.Median(pairs.Select(p => p.Cached)),8:0} {saved.Median,8:0} [{saved.Low:0}, {saved.High:0}]");
    }

    // Infer started from zero by a warm-up event alone, nothing else running, in pairs: once with its session cache
    // emptied, once with it filled: what the cache saves, without a job's work beside it. Pairs, so that a machine slower
    // for a while (another tenant, a frequency step) is slower for both halves of a pair.
    private static async Task<IReadOnlyList<QuietPair>> MeasureQuietColdStartsAsync(string folder, int pairs, CancellationToken cancellationToken)
    {
        var options = new LocalClusterOptions(0, DuplicateDeliveries: false, folder) { ScaleToZero = true, IdleWindow = TimeSpan.FromSeconds(1) };
        Console.WriteLine("idle node: Infer started by a warm-up alone, without and with its session cache");
        var measured = new List<QuietPair>();
        await using (var cluster = await LocalCluster.StartAsync(options, TextWriter.Null, cancellationToken).ConfigureAwait(false))
        {
            var autoscaler = cluster.Autoscaler!;
            async Task<(ColdStart Start, IReadOnlyDictionary<string, double> Parts)> ColdStartAsync()
            {
                var before = autoscaler.ColdStarts.Count;
                await cluster.WarmUpAsync(PipelineTopology.Infer, cancellationToken).ConfigureAwait(false);
                while (autoscaler.ColdStarts.Count == before || Running(autoscaler) > 0)
                {
                    // Started, ready, then stopped after the idle window: its parts are written as it stops.
                    await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
                }

                var start = autoscaler.ColdStarts[^1];
                var parts = await ReadPartsAsync(start.Timings, cancellationToken).ConfigureAwait(false);
                var figures = s_parts.ToDictionary(part => part, part => parts.FirstOrDefault(x => x.Name == part)?.TookMs ?? 0, StringComparer.Ordinal);
                // Ready but for being asked: the end of the last part before the first readiness check came in.
                figures[OwnClock] = parts.Where(p => p.Name != "readiness check").Select(p => p.AtMs + p.TookMs).DefaultIfEmpty(0).Max();
                return (start, figures);
            }

            // In turn uncached then cached, and cached (the cache the last pair wrote) then uncached, so that whatever the
            // second start of a pair gains from the first (files the first read, now in the page cache) favours neither.
            for (var pair = 0; pair < pairs; pair++)
            {
                (ColdStart Start, IReadOnlyDictionary<string, double> Parts) uncached, cached;
                if (pair % 2 == 0)
                {
                    EmptySessionCache();
                    uncached = await ColdStartAsync().ConfigureAwait(false);
                    cached = await ColdStartAsync().ConfigureAwait(false);
                }
                else
                {
                    cached = await ColdStartAsync().ConfigureAwait(false);
                    EmptySessionCache();
                    uncached = await ColdStartAsync().ConfigureAwait(false);
                }

                measured.Add(new QuietPair(uncached.Start, uncached.Parts, cached.Start, cached.Parts));
            }

            void EmptySessionCache()
            {
                if (Directory.Exists(cluster.SessionCache))
                {
                    Directory.Delete(cluster.SessionCache, recursive: true);
                }
            }
        }

        return measured;
    }

    private sealed record Measured(
        double ToFirstInference, double FirstPreprocess, double FirstWait, double WaitForReady, double JobSeconds, ColdStart InferColdStart, double PeakStageMiB,
        double ToZero, int ProcessesAfter, ColdStart SecondInferColdStart, IReadOnlyList<StartupPart> FirstParts, IReadOnlyList<StartupPart> SecondParts);

    private static async Task<Measured> MeasureAsync(string clip, bool warmups, string folder, CancellationToken cancellationToken)
    {
        var options = new LocalClusterOptions(0, DuplicateDeliveries: false, folder)
        {
            ScaleToZero = true,
            IdleWindow = s_idleWindow,
            Environment = warmups ? new Dictionary<string, string>() : new Dictionary<string, string> { [$"Stages__{nameof(StageOptions.WarmNextStage)}"] = "false" },
        };
        Console.WriteLine($"warm-ups {(warmups ? "on" : "off")}: starting the cluster");
        ColdStart first, second;
        double toFirstInference, firstPreprocess, firstWait, waitForReady, jobSeconds, peak, toZero;
        int after;
        await using (var cluster = await LocalCluster.StartAsync(options, TextWriter.Null, cancellationToken).ConfigureAwait(false))
        {
            var autoscaler = cluster.Autoscaler!;
            using var http = new HttpClient { BaseAddress = cluster.Gateway, Timeout = Timeout.InfiniteTimeSpan };
            var gateway = new GatewayClient(http, cluster.ApiKey);

            var (job, timeline, stagePeak) = await RunJobAsync(gateway, autoscaler, clip, cancellationToken).ConfigureAwait(false);
            var infer = timeline.Attempts.Where(a => a.Stage == PipelineTopology.Infer.Name).MinBy(a => a.Ready)
                ?? throw new InvalidOperationException("The benchmark job has no inference in its history.");
            var preprocess = timeline.Attempts.First(a => a.Stage == PipelineTopology.First.Name && a.Segment == infer.Segment && a.Outcome == AttemptOutcome.Done);
            toFirstInference = (infer.Started!.Value - timeline.Created!.Value).TotalSeconds;
            firstPreprocess = preprocess.WorkSeconds ?? 0;
            firstWait = infer.WaitSeconds ?? 0;
            jobSeconds = job.Timings[JobView.TotalTiming];
            peak = stagePeak;
            first = autoscaler.ColdStarts.First(c => FunctionOf(c.Process) == PipelineTopology.Infer.Name);
            // The part of the wait before Infer's first process was ready.
            var inferReady = first.StartedAt + first.ToReady;
            waitForReady = Math.Clamp((inferReady - infer.Ready).TotalSeconds, 0, firstWait);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  job done in {jobSeconds:0.00} s; the first segment waited {firstWait:0.000} s for Infer, whose cold start took {first.ToReady.TotalSeconds:0.00} s"));

            // Every stage process stops once the idle window has passed without requests.
            var ended = Stopwatch.StartNew();
            while (Running(autoscaler) > 0 && ended.Elapsed < s_idleWindow + TimeSpan.FromSeconds(60))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
            }

            toZero = ended.Elapsed.TotalSeconds;
            after = Running(autoscaler);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {after} stage process(es) {toZero:0.0} s after the job"));

            // A second job: every stage from zero again, Infer's model now in the session cache.
            await RunJobAsync(gateway, autoscaler, clip, cancellationToken).ConfigureAwait(false);
            second = autoscaler.ColdStarts.Last(c => FunctionOf(c.Process) == PipelineTopology.Infer.Name);
        }

        // The processes wrote their start-up parts as they stopped.
        return new Measured(
            toFirstInference, firstPreprocess, firstWait, waitForReady, jobSeconds, first, peak, toZero, after, second,
            await ReadPartsAsync(first.Timings, cancellationToken).ConfigureAwait(false),
            await ReadPartsAsync(second.Timings, cancellationToken).ConfigureAwait(false));
    }

    // Submits the clip and follows it to Exit, sampling the stage processes' memory meanwhile; the job, its timeline and
    // the peak of the stage processes' summed resident memory, in MiB.
    private static async Task<(JobView Job, JobTimeline Timeline, double PeakMiB)> RunJobAsync(
        GatewayClient gateway, LocalAutoscaler autoscaler, string clip, CancellationToken cancellationToken)
    {
        var submitted = await gateway.SubmitAsync(new FileInfo(clip), cancellationToken).ConfigureAwait(false);
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var peak = 0L;
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, PipelineTopology.Stages.SelectMany(s => autoscaler.Processes(s.Name)).Sum(ResidentBytes));
                await Task.Delay(TimeSpan.FromMilliseconds(100), sampling.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }, CancellationToken.None);
        var job = await gateway.WaitForExitAsync(submitted, onStep: null, cancellationToken).ConfigureAwait(false);
        await sampling.CancelAsync().ConfigureAwait(false);
        await sampler.ConfigureAwait(false);
        if (job.Job.TryGetValue(JobFields.Error, out var error))
        {
            throw new InvalidOperationException($"The benchmark job failed: {error}");
        }

        var id = long.Parse(job.Job[JobFields.Id], CultureInfo.InvariantCulture);
        return (job, await gateway.GetTimelineAsync(id, cancellationToken).ConfigureAwait(false), peak / (1024.0 * 1024));
    }

    private static int Running(LocalAutoscaler autoscaler) => PipelineTopology.Stages.Sum(s => autoscaler.Processes(s.Name).Count);

    private static long ResidentBytes(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.WorkingSet64;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // It stopped between the listing and the reading.
            return 0;
        }
    }

    private static async Task<IReadOnlyList<StartupPart>> ReadPartsAsync(string path, CancellationToken cancellationToken) =>
        File.Exists(path) ? await StartupTimeline.ReadAsync(path, cancellationToken).ConfigureAwait(false) : [];

    private static string FunctionOf(string process) => process.Split('-')[0];

    // 20 s of walking.mp4 at 1080p (two 10 s segments): its first segment takes a few seconds to preprocess on this
    // machine, longer than Infer takes to start, which is the case the warm-up is for.
    private static async Task<string?> MakeClipAsync(string scratch, CancellationToken cancellationToken)
    {
        var sample = CliModels.FindRepositoryFile("tests/assets/videos/walking.mp4");
        if (sample is null)
        {
            return null;
        }

        var clip = Path.Combine(scratch, "walking-1080p-20s.mp4");
        await BenchCommand.RunFfmpegAsync(sample, [
            "-v", "error", "-stream_loop", "1", "-i", sample, "-t", "20", "-vf", "scale=1920:1080", "-c:v", "libx264", "-preset", "veryfast",
            "-pix_fmt", "yuv420p", "-c:a", "copy", "-y", clip,
        ], cancellationToken, "making the clip from").ConfigureAwait(false);
        return clip;
    }
}
