using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;
using Xunit.Abstractions;

namespace GEdge.Cluster.Tests;

/// <summary>
/// What the cluster must do whatever its storage: each scenario runs on the local folder (<see cref="ClusterFixture"/>
/// and its kin) and on S3 (<see cref="S3ClusterFixture"/>), and looks at the storage through the fixture
/// (<see cref="ClusterFixture.IntermediatesLeft"/>, <see cref="ClusterFixture.ResultsFolder"/>), never past it.
/// </summary>
public static partial class ClusterScenarios
{
    private static readonly JobStatus[] s_allStatusesInOrder =
    [
        JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Preprocessing_complete, JobStatus.Inferencing,
        JobStatus.Inferencing_complete, JobStatus.Postprocessing, JobStatus.Postprocessing_complete, JobStatus.Exit,
    ];

    private static readonly TimeSpan s_jobTimeout = TimeSpan.FromMinutes(4);

    /// <summary>
    /// <c>gedge submit</c> of road.mp4 runs the job through the four function processes, each move by its own process, and
    /// gives what <c>gedge run</c> gives; nothing of the job is left in the work bucket.
    /// </summary>
    public static async Task SubmitGivesWhatRunGivesAsync(ClusterFixture cluster, string scratch)
    {
        var video = Path.Combine(AppContext.BaseDirectory, "assets", "road.mp4");
        var clusterOut = Path.Combine(scratch, "cluster");
        var runOut = Path.Combine(scratch, "run");

        var submit = await ClusterFixture.RunGedgeAsync(["submit", video, "--server", cluster.Gateway.ToString(), "--api-key", cluster.ApiKey, "--out", clusterOut], scratch);
        var run = await ClusterFixture.RunGedgeAsync(["run", video, "--user", "alice", "--out", runOut], scratch);

        Assert.True(submit.ExitCode == 0, $"gedge submit failed:{Environment.NewLine}{submit.Error}{submit.Output}");
        Assert.True(run.ExitCode == 0, $"gedge run failed:{Environment.NewLine}{run.Error}{run.Output}");
        var jobId = long.Parse(SubmittedJob().Match(submit.Error).Groups["id"].Value, CultureInfo.InvariantCulture);
        Assert.Contains($"job {jobId} done in ", submit.Output, StringComparison.Ordinal);
        Assert.Equal(["annotated.mp4", "detections.json", "summary.json"], Directory.GetFiles(clusterOut).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // One job, moved by the separate processes in turn, each event carried by the broker over HTTP.
        var job = await cluster.WaitForExitAsync(jobId, TimeSpan.FromSeconds(10));
        Assert.Equal("local", job.Job[JobFields.User]);
        Assert.False(job.Job.ContainsKey(JobFields.Error), job.Job.GetValueOrDefault(JobFields.Error));
        Assert.Equal("0", job.Job[JobFields.Iteration]);
        Assert.Equal(s_allStatusesInOrder, job.History.Select(t => t.Status));
        // The cut, the one segment through each stage, and the join: each event to its function, each move in its log.
        foreach (var (eventId, stage, moved) in ClusterJobs.Moves(jobId))
        {
            Assert.Single(await cluster.WaitForLogLinesAsync("broker", $"Delivered {eventId} to {cluster.Services[stage]}: 200", 1));
            Assert.Single(await cluster.WaitForLogLinesAsync(stage, moved, 1));
        }

        Assert.True(await cluster.WorkFolderRemovedAsync(jobId), $"the job's intermediates were left behind: {string.Join(", ", cluster.IntermediatesLeft(jobId))}");

        // The same results as the embedded pipeline's, from the same code in other processes.
        var source = await MediaFacts.ProbeAsync(video);
        Assert.Equal(source, await MediaFacts.ProbeAsync(Path.Combine(clusterOut, "annotated.mp4")) with { AudioCodec = source.AudioCodec });
        Assert.Equal(await MediaFacts.ProbeAsync(Path.Combine(runOut, "annotated.mp4")), await MediaFacts.ProbeAsync(Path.Combine(clusterOut, "annotated.mp4")));
        Assert.Equal("aac", (await MediaFacts.ProbeAsync(Path.Combine(clusterOut, "annotated.mp4"))).AudioCodec);
        using var clusterDetections = await ReadJsonAsync(clusterOut, "detections.json");
        using var runDetections = await ReadJsonAsync(runOut, "detections.json");
        Assert.Equal(jobId, clusterDetections.RootElement.GetProperty("jobId").GetInt64());
        Assert.Equal(source.Frames, clusterDetections.RootElement.GetProperty("frames").GetArrayLength());
        foreach (var property in new[] { "model", "video", "frames" })
        {
            Assert.Equal(runDetections.RootElement.GetProperty(property).GetRawText(), clusterDetections.RootElement.GetProperty(property).GetRawText());
        }

        using var clusterSummary = await ReadJsonAsync(clusterOut, "summary.json");
        using var runSummary = await ReadJsonAsync(runOut, "summary.json");
        Assert.Equal("car", clusterSummary.RootElement.GetProperty("classes")[0].GetProperty("label").GetString());
        Assert.Equal(runSummary.RootElement.GetProperty("classes").GetRawText(), clusterSummary.RootElement.GetProperty("classes").GetRawText());
        Assert.Equal(runSummary.RootElement.GetProperty("video").GetRawText(), clusterSummary.RootElement.GetProperty("video").GetRawText());
    }

    /// <summary>
    /// A job cancelled through the API while Infer works on it ends as cancelled; Infer, in its own process, finds the
    /// job gone at its next lease renewal, stops, and removes what it wrote since; nothing of the job is left.
    /// </summary>
    public static async Task CancelMidJobAsync(ClusterFixture cluster)
    {
        var id = await cluster.SubmitAsync(await TestClips.LongAsync());
        await cluster.WaitForSegmentAsync(id, 0, JobStatus.Inferencing, TimeSpan.FromMinutes(2));

        using var cancelled = await cluster.Api.DeleteAsync($"api/jobs/{id}");

        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        var job = (await cluster.Jobs.GetAsync(id))!;
        Assert.Equal((JobStatus.Exit, JobEnding.CancelledReason), (job.Status, job.Error));
        await cluster.AssertSegmentDroppedAsync("infer", id, JobStatus.Inferencing);
        // Not as a failed attempt with a stack trace: what failed under the stage was the cancel removing its frames.
        Assert.DoesNotContain(
            await cluster.WaitForLogLinesAsync("infer", "Inferencing attempt failed", 0),
            line => line.Contains($" {id} ", StringComparison.Ordinal));
        Assert.True(await cluster.WorkFolderRemovedAsync(id), $"the cancelled job's intermediates were left behind: {string.Join(", ", cluster.IntermediatesLeft(id))}");
        var history = (await cluster.Jobs.GetHistoryAsync(id)).Select(t => t.Status).ToList();
        Assert.Equal([JobStatus.Inferencing, JobStatus.Exit], history[^2..]);
        Assert.DoesNotContain(JobStatus.Inferencing_complete, history);
    }

    /// <summary>
    /// A stage's process killed outright mid-job is started again by serve, and the job completes on its second attempt
    /// with the results an undisturbed run gives, and nothing of it left in the work bucket.
    /// </summary>
    public static async Task StageKilledMidJobAsync(ClusterFixture cluster, string stage, JobStatus working)
    {
        var video = await TestClips.LongAsync();
        var undisturbed = await cluster.UndisturbedResultsAsync(video);
        var id = await cluster.SubmitAsync(video);
        await cluster.WaitForJobAsync(id, job => job.Status == working, s_jobTimeout);
        var killed = cluster.FunctionPid(stage);

        await ClusterFixture.SignalAsync(killed, "KILL");

        await cluster.WaitForServeLinesAsync($"gedge: {stage} exited with code", 1, TimeSpan.FromSeconds(30));
        var started = (await cluster.WaitForServeLinesAsync($"gedge: {stage} started again (pid ", 1, TimeSpan.FromSeconds(30)))[^1];
        var job = await cluster.WaitForJobExitAsync(id, s_jobTimeout);
        Assert.Null(job.Error);
        Assert.Equal(1, job.Iteration);
        // The job's iteration is its segments' highest: the work in hand (the cut, or the segments in the killed process)
        // was taken back once its lease ran out and done again.
        Assert.Contains($"{working} stopped: its lease ran out", job.LastError, StringComparison.Ordinal);
        Assert.True(await ClusterJobs.WasRedoneAsync(cluster.Jobs, id, working), $"nothing of job {id} entered {working} twice");
        Assert.Equal(JobStatus.Exit, (await cluster.Jobs.GetHistoryAsync(id))[^1].Status);
        var restarted = cluster.FunctionPid(stage);
        Assert.NotEqual(killed, restarted);
        Assert.Contains($"(pid {restarted})", started, StringComparison.Ordinal);
        Assert.Equal(undisturbed, await JobResultsFacts.ReadAsync(cluster.ResultsFolder(job)));
        Assert.True(await cluster.WorkFolderRemovedAsync(id), $"the job's intermediates were left behind: {string.Join(", ", cluster.IntermediatesLeft(id))}");
    }

    /// <summary>
    /// <paramref name="videos"/> short videos submitted at once all reach Exit with the results a lone <c>gedge run</c>
    /// gives, with consecutive ids and nothing left in the work bucket. The throughput and the longest waits are printed,
    /// never asserted.
    /// </summary>
    public static async Task ManyAtOnceAsync(ClusterFixture cluster, int videos, string scratch, ITestOutputHelper output)
    {
        var video = await TestClips.ShortAsync();
        var alone = Path.Combine(scratch, "alone");
        var run = await ClusterFixture.RunGedgeAsync(["run", video, "--out", alone], scratch);
        Assert.True(run.ExitCode == 0, $"gedge run failed:{Environment.NewLine}{run.Error}{run.Output}");
        var expected = await JobResultsFacts.ReadAsync(alone);
        var before = (long)await cluster.Redis.GetDatabase().StringGetAsync("gedge:jobs:next-id");

        var clock = Stopwatch.StartNew();
        var ids = await Task.WhenAll(Enumerable.Range(0, videos).Select(_ => cluster.SubmitAsync(video)));
        var submitted = clock.Elapsed;
        var jobs = new List<Job>(videos);
        foreach (var id in ids.Order())
        {
            jobs.Add(await cluster.WaitForJobExitAsync(id, TimeSpan.FromMinutes(10), TimeSpan.FromMilliseconds(250)));
        }

        var allDone = clock.Elapsed;
        Assert.All(jobs, job => Assert.True(job.Error is null, $"job {job.Id}: {job.Error}"));
        Assert.Equal(before + videos, (long)await cluster.Redis.GetDatabase().StringGetAsync("gedge:jobs:next-id"));
        Assert.Equal(Enumerable.Range(1, videos).Select(i => before + i), ids.Order());
        foreach (var job in jobs)
        {
            Assert.Equal(expected, await JobResultsFacts.ReadAsync(cluster.ResultsFolder(job)));
            Assert.True(await cluster.WorkFolderRemovedAsync(job.Id), $"job {job.Id}'s intermediates were left behind: {string.Join(", ", cluster.IntermediatesLeft(job.Id))}");
        }

        // The figures, from the job table's own times: created (upload stored), start (a stage took it), end (Exit).
        var first = jobs.Min(j => j.CreatedTime!.Value);
        var last = jobs.Max(j => j.EndTime!.Value);
        var span = last - first;
        var frames = videos * expected.Video.Frames;
        var longestTotal = jobs.MaxBy(j => j.EndTime!.Value - j.CreatedTime!.Value)!;
        var longestQueued = jobs.MaxBy(j => j.StartTime!.Value - j.CreatedTime!.Value)!;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{videos} jobs of {expected.Video.Frames} frames ({expected.Video.Width}x{expected.Video.Height}) on {Environment.ProcessorCount} cores"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"uploads took {submitted.TotalSeconds:0.0} s; all in Exit {allDone.TotalSeconds:0.0} s after the first upload began"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"throughput: {videos / span.TotalMinutes:0.0} jobs/min, {frames / span.TotalSeconds:0.0} frames/s ({span.TotalSeconds:0.0} s from the first upload stored to the last Exit)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"longest wait, upload to Exit: {(longestTotal.EndTime - longestTotal.CreatedTime)!.Value.TotalSeconds:0.0} s (job {longestTotal.Id})"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"longest queued, upload to the first stage: {(longestQueued.StartTime - longestQueued.CreatedTime)!.Value.TotalSeconds:0.0} s (job {longestQueued.Id})"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"iterations above 0: {jobs.Count(j => j.Iteration > 0)}"));
    }

    private static async Task<JsonDocument> ReadJsonAsync(string folder, string name) =>
        JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, name)));

    [GeneratedRegex(@"^job (?<id>\d+): road\.mp4 as local", RegexOptions.Multiline)]
    private static partial Regex SubmittedJob();
}
