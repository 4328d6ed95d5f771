using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using GEdge.Contracts;
using GEdge.Gateway;
using GEdge.JobTable;

namespace GEdge.Cluster.Tests;

/// <summary>What the reliability and load tests do with the cluster: submit, watch jobs in the table, find processes.</summary>
public partial class ClusterFixture
{
    /// <summary>Submits a video through the gateway's jobs API, as a user does, and returns the new job's id.</summary>
    public async Task<long> SubmitAsync(string video, CancellationToken cancellationToken = default)
    {
        await using var file = File.OpenRead(video);
        using var content = new StreamContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var created = await Api.PostAsync($"api/jobs?name={Uri.EscapeDataString(Path.GetFileName(video))}", content, cancellationToken);
        Assert.True(created.IsSuccessStatusCode, $"the upload of {video} was refused: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync(cancellationToken)}");
        var job = await created.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView, cancellationToken);
        return long.Parse(job!.Job[JobFields.Id], CultureInfo.InvariantCulture);
    }

    /// <summary>Polls the job table (every 20 ms by default, so a stage's short status is seen) until <paramref name="until"/> holds.</summary>
    public async Task<Job> WaitForJobAsync(long id, Func<Job, bool> until, TimeSpan timeout, TimeSpan? pollInterval = null)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            var job = await Jobs.GetAsync(id);
            if (job is not null && until(job))
            {
                return job;
            }

            try
            {
                await Task.Delay(pollInterval ?? TimeSpan.FromMilliseconds(20), deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"job {id} did not get there within {timeout}; it is {job?.Status} (iteration {job?.Iteration}, error {job?.Error}).{Environment.NewLine}{Output()}");
            }
        }
    }

    /// <summary>
    /// Polls until segment <paramref name="index"/> of job <paramref name="id"/> is in <paramref name="status"/>: a test that
    /// stops a stage mid-work waits for the segment that takes longest, since the job's own status (its least advanced
    /// segment's) can be a stage whose work in hand ends within the stop's grace (a cut by stream copy, a short last segment).
    /// </summary>
    public async Task WaitForSegmentAsync(long id, int index, JobStatus status, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (!(await Jobs.GetSegmentsAsync(id)).Any(s => s.Index == index && s.Status == status))
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"segment {index} of job {id} was not seen in {status} within {timeout}.{Environment.NewLine}{Output()}");
            }
        }
    }

    /// <summary>Waits until job <paramref name="id"/> is in Exit and returns it.</summary>
    public Task<Job> WaitForJobExitAsync(long id, TimeSpan timeout, TimeSpan? pollInterval = null) =>
        WaitForJobAsync(id, job => job.Status == JobStatus.Exit, timeout, pollInterval);

    /// <summary>
    /// Whether a job's intermediates are gone from the work bucket, as the storage itself records it: the stage that ends
    /// a job removes them just after it moves the job to Exit, so this waits a little for it.
    /// </summary>
    public async Task<bool> WorkFolderRemovedAsync(long id)
    {
        for (var i = 0; i < 100 && IntermediatesLeft(id).Count > 0; i++)
        {
            await Task.Delay(100);
        }

        return IntermediatesLeft(id).Count == 0;
    }

    /// <summary>
    /// What the storage holds of a job's intermediates (paths or keys; empty when nothing): on the local folder, the job's
    /// folder in the work bucket as long as it exists, since the store removes the folders it empties.
    /// </summary>
    public virtual IReadOnlyList<string> IntermediatesLeft(long id) =>
        Directory.Exists(WorkFolder(id)) ? [WorkFolder(id), .. Directory.EnumerateFiles(WorkFolder(id), "*", SearchOption.AllDirectories)] : [];

    /// <summary>A folder with a finished job's results (annotated.mp4, detections.json, summary.json): on the local folder, where the store keeps them.</summary>
    public virtual string ResultsFolder(Job job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return Path.Combine(Storage, "results", job.User, job.Id.ToString(CultureInfo.InvariantCulture));
    }

    private readonly Dictionary<string, Task<JobResultsFacts>> _undisturbed = new(StringComparer.Ordinal);

    /// <summary>The results of one undisturbed run of <paramref name="video"/> on this cluster (run once, then kept): what a disturbed run must give.</summary>
    public Task<JobResultsFacts> UndisturbedResultsAsync(string video)
    {
        lock (_undisturbed)
        {
            if (!_undisturbed.TryGetValue(video, out var facts))
            {
                facts = RunAsync();
                _undisturbed[video] = facts;
            }

            return facts;
        }

        async Task<JobResultsFacts> RunAsync()
        {
            var id = await SubmitAsync(video);
            var job = await WaitForJobExitAsync(id, TimeSpan.FromMinutes(4));
            Assert.True(job.Error is null && job.Iteration == 0, $"the undisturbed run of {video} failed: {job.Error} (iteration {job.Iteration})");
            return await JobResultsFacts.ReadAsync(ResultsFolder(job));
        }
    }

    /// <summary>Where a job's intermediates are in the local storage folder while it runs.</summary>
    public string WorkFolder(long id) => Path.Combine(Storage, "work", "jobs", id.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// The pid of the running <c>gedge function NAME</c> process of this cluster, or of its <c>gedge broker</c> (found by
    /// its command line and port).
    /// </summary>
    public int FunctionPid(string name) =>
        FunctionPids(name) is [var pid, ..] ? pid
        : throw new InvalidOperationException($"no running {name} process of this cluster.{Environment.NewLine}{Output()}");

    /// <summary>
    /// The pids of the running processes named <paramref name="name"/> (a function's first process, <c>infer</c>, or a
    /// further one, <c>infer-2</c>, or the <c>broker</c>), found by command line and port: none while it is scaled to zero.
    /// </summary>
    public IReadOnlyList<int> FunctionPids(string name)
    {
        string[] wanted = name == "broker" ? ["broker", "--urls", Services[name].ToString()] : ["function", FunctionOf(name), "--urls", Services[name].ToString()];
        var pids = new List<int>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string[] arguments;
            try
            {
                arguments = File.ReadAllText(Path.Combine(folder, "cmdline")).Split('\0');
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            for (var i = 0; i + wanted.Length <= arguments.Length; i++)
            {
                if (arguments.AsSpan(i, wanted.Length).SequenceEqual(wanted))
                {
                    pids.Add(pid);
                    break;
                }
            }
        }

        return pids;
    }

    // postprocess-2 is a process of postprocess.
    private static string FunctionOf(string name) =>
        name.LastIndexOf('-') is var dash and > 0 && name[(dash + 1)..].All(char.IsAsciiDigit) ? name[..dash] : name;

    /// <summary>The pid of the cluster's redis-server, from its pid file.</summary>
    public int JobTableServerPid() =>
        int.Parse(File.ReadAllText(Path.Combine(Root, ".gedge", "cluster", "redis", "redis-server.pid")).Trim(), CultureInfo.InvariantCulture);

    /// <summary>Sends <paramref name="signal"/> (KILL, TERM) to a process, as <c>kill -SIGNAL PID</c>.</summary>
    public static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Waits until serve has printed a line containing <paramref name="text"/> at least <paramref name="count"/> times.</summary>
    public async Task<IReadOnlyList<string>> WaitForServeLinesAsync(string text, int count, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            List<string> lines;
            lock (_output)
            {
                lines = _output.Where(line => line.Contains(text, StringComparison.Ordinal)).ToList();
            }

            if (lines.Count >= count)
            {
                return lines;
            }

            try
            {
                await Task.Delay(50, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"serve did not print '{text}' {count} times within {timeout}:{Environment.NewLine}{Output()}");
            }
        }
    }
}

/// <summary>What the cluster's logs say of a job of one segment: each event, the function it goes to, and the move it makes.</summary>
public static class ClusterJobs
{
    /// <summary>The cut, the segment's three stages and the join, in order.</summary>
    public static IReadOnlyList<(string EventId, string Stage, string Moved)> Moves(long id) =>
    [
        ($"job-{id}-Enqueue-0", "preprocess", $"Job {id} moved from Enqueue to Preprocessing"),
        ($"job-{id}-segment-0-Enqueue-0", "preprocess", $"Job {id} segment 0 moved from Enqueue to Preprocessing"),
        ($"job-{id}-segment-0-Preprocessing_complete-0", "infer", $"Job {id} segment 0 moved from Preprocessing_complete to Inferencing"),
        ($"job-{id}-segment-0-Inferencing_complete-0", "postprocess", $"Job {id} segment 0 moved from Inferencing_complete to Postprocessing"),
        ($"job-{id}-Postprocessing_complete-0", "postprocess", $"Job {id} moved from Postprocessing_complete to Exit"),
    ];

    /// <summary>
    /// Whether <paramref name="working"/> was entered twice by the job (its cut) or by one of its segments: the work in
    /// hand when its process went away was done again.
    /// </summary>
    public static async Task<bool> WasRedoneAsync(JobTable.JobTable jobs, long id, JobStatus working)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var job = (await jobs.GetHistoryAsync(id)).Count(t => t.Status == working);
        var segments = (await jobs.GetSegmentHistoryAsync(id)).GroupBy(t => t.Segment).Select(g => g.Count(t => t.Status == working));
        return job >= 2 || segments.Any(count => count >= 2);
    }
}

/// <summary>
/// A cluster set for failures: a stage's lease runs 8 s (renewed every second), serve sweeps every second, a stage told
/// to stop gives its job back after half a second, and a lost event is announced again after 15 s; so a dead worker's
/// job is taken back in seconds, not minutes.
/// </summary>
public sealed class ReliabilityClusterFixture : ClusterFixture
{
    /// <summary>The settings of a cluster set for failures, for other fixtures to build on.</summary>
    public static IReadOnlyDictionary<string, string> Settings { get; } = new Dictionary<string, string>
    {
        ["Stages__Lease"] = "00:00:08",
        ["Stages__LeaseRenewal"] = "00:00:01",
        ["Stages__ShutdownGrace"] = "00:00:00.5",
        ["Sweeper__Interval"] = "00:00:01",
        // An event in the broker's queue when the whole cluster stops is lost with it (a segment's reply, a moment before
        // the stop); the sweep announces what has waited this long again, as it does after ten minutes by default.
        ["Sweeper__ResendAfter"] = "00:00:15",
    };

    protected override IReadOnlyDictionary<string, string> ServeEnvironment => Settings;
}

/// <summary>Clips the reliability and load tests make from road.mp4 with ffmpeg, once per test run.</summary>
public static class TestClips
{
    private static readonly string s_folder = Directory.CreateTempSubdirectory("gedge-clips-").FullName;
    private static readonly Lazy<Task<string>> s_long = new(() => MakeAsync("road-x8.mp4", ["-stream_loop", "7", "-i", Road, "-c", "copy"]));
    private static readonly Lazy<Task<string>> s_fiveTimes = new(() => MakeAsync("road-x5.mp4", ["-stream_loop", "4", "-i", Road, "-c", "copy"]));
    private static readonly Lazy<Task<string>> s_short = new(() => MakeAsync(
        "road-1s-360p.mp4", ["-i", Road, "-t", "1", "-vf", "scale=640:360", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"]));

    /// <summary>The sample clip, 1.5 s of 1280x720 at 25 fps with audio.</summary>
    public static string Road => Path.Combine(AppContext.BaseDirectory, "assets", "road.mp4");

    /// <summary>road.mp4 eight times over (stream copy: 304 frames, about 12 s): each stage runs long enough to be killed in.</summary>
    public static Task<string> LongAsync() => s_long.Value;

    /// <summary>road.mp4 five times over (stream copy: 190 frames, a keyframe at each start): five segments of about a second.</summary>
    public static Task<string> FiveTimesAsync() => s_fiveTimes.Value;

    /// <summary>The first second of road.mp4 at 640x360 (25 frames): a job that takes a moment, for load.</summary>
    public static Task<string> ShortAsync() => s_short.Value;

    private static async Task<string> MakeAsync(string name, IReadOnlyList<string> arguments)
    {
        var path = Path.Combine(s_folder, name);
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true };
        foreach (var argument in (string[])["-y", "-v", "error", .. arguments, path])
        {
            start.ArgumentList.Add(argument);
        }

        using var ffmpeg = Process.Start(start)!;
        var error = await ffmpeg.StandardError.ReadToEndAsync();
        await ffmpeg.WaitForExitAsync();
        Assert.True(ffmpeg.ExitCode == 0, $"ffmpeg could not make {name}: {error}");
        return path;
    }
}

/// <summary>What a finished job's results say, to compare a disturbed run with an undisturbed one.</summary>
public sealed record JobResultsFacts(MediaFacts Video, string Frames, string Classes, string Model)
{
    public static async Task<JobResultsFacts> ReadAsync(string folder)
    {
        Assert.Equal(["annotated.mp4", "detections.json", "summary.json"], Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using var detections = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "detections.json")));
        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "summary.json")));
        return new JobResultsFacts(
            await MediaFacts.ProbeAsync(Path.Combine(folder, "annotated.mp4")),
            detections.RootElement.GetProperty("frames").GetRawText(),
            summary.RootElement.GetProperty("classes").GetRawText(),
            detections.RootElement.GetProperty("model").GetRawText());
    }
}

/// <summary>One stage's completed work on one segment: from its claim to its completion, by the process that did it.</summary>
public sealed record StageSpan(PipelineStage Stage, int Segment, string Worker, DateTimeOffset Start, DateTimeOffset End)
{
    /// <summary>Every completed stage of every segment in a job's segment history.</summary>
    public static IReadOnlyList<StageSpan> AllIn(IReadOnlyList<SegmentTransition> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var spans = new List<StageSpan>();
        foreach (var group in history.GroupBy(t => t.Segment))
        {
            var moves = group.ToList();
            for (var i = 0; i + 1 < moves.Count; i++)
            {
                if (PipelineTopology.Stages.FirstOrDefault(stage => stage.Working == moves[i].Status) is { } stage
                    && moves[i + 1].Status == stage.Completes && moves[i].Worker is { } worker)
                {
                    spans.Add(new StageSpan(stage, group.Key, worker, moves[i].Time, moves[i + 1].Time));
                }
            }
        }

        return spans;
    }
}
