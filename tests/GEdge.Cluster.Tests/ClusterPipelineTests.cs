using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.Gateway;
using GEdge.JobTable;
using GEdge.Jobs;

namespace GEdge.Cluster.Tests;

/// <summary>
/// The local cluster as a user and as a broker see it: `gedge serve` running redis-server, the broker and the four
/// functions as separate processes, a job submitted with `gedge submit` over HTTP, events posted to the processes.
/// </summary>
[Collection(OneClusterAtATime.Name)]
public sealed class ClusterPipelineTests(ClusterFixture cluster) : IClassFixture<ClusterFixture>, IDisposable
{
    private static readonly Uri s_source = new("/gedge/test", UriKind.Relative);
    private static readonly JsonEventFormatter s_formatter = new();

    private readonly string _scratch = Directory.CreateTempSubdirectory("gedge-cluster-test-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task Run_CtrlCMidJob_EndsTheJobAsACancelThroughTheApiDoes_AndLeavesNoIntermediates()
    {
        var storage = Path.Combine(_scratch, "storage");
        // gedge run on the cluster's job table, so the test can watch the job and read it after the process is gone.
        using var run = ClusterFixture.StartGedge(
            ["run", await TestClips.LongAsync(), "--user", "ctrl-c", "--out", Path.Combine(_scratch, "out")],
            _scratch,
            new Dictionary<string, string> { ["JobTable__ConnectionString"] = cluster.JobTableConnectionString, ["Storage__Local__Root"] = storage });
        var id = await JobOfAsync("ctrl-c");
        // Stopped as soon as a segment's frames are in the work bucket: the job is still far from done (its other
        // segments to preprocess, every segment to infer and annotate). Waiting for the job itself to be in Inferencing
        // left a moment too short on a busy machine: its last segment's inference and the join finished first.
        using (var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            while (!(await cluster.Jobs.GetSegmentsAsync(id)).Any(s => s.Status >= JobStatus.Preprocessing_complete))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), deadline.Token);
            }
        }

        var work = Path.Combine(storage, "work", "jobs", id.ToString(CultureInfo.InvariantCulture));
        Assert.True(Directory.Exists(work), "a job with a segment preprocessed has its frames in the work bucket");

        await ClusterFixture.SignalAsync(run.Id, "INT");

        var (exitCode, _, error) = await ClusterFixture.FinishGedgeAsync(run);
        Assert.Equal(1, exitCode);
        Assert.Contains($"gedge: job {id} cancelled.", error, StringComparison.Ordinal);
        var job = (await cluster.Jobs.GetAsync(id))!;
        Assert.Equal((JobStatus.Exit, JobEnding.CancelledReason), (job.Status, job.Error));
        Assert.False(Directory.Exists(work) && Directory.EnumerateFiles(work, "*", SearchOption.AllDirectories).Any(), "the cancelled job's intermediates were left behind");
    }

    [Fact]
    public async Task Run_AfterAnEarlierRunWasKilled_EndsItsJobAndRemovesWhatItLeft_AndASecondRunAtOnceIsRefusedInOneLine()
    {
        // On the embedded default (its own Garnet job table and storage folder), as a user runs it.
        var folder = Path.Combine(_scratch, "embedded");
        Directory.CreateDirectory(folder);
        var work = Path.Combine(folder, ".gedge", "storage", "work", "jobs", "1");
        using var killed = ClusterFixture.StartGedge(["run", await TestClips.LongAsync(), "--out", Path.Combine(_scratch, "killed")], folder);
        using (var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            while (!(Directory.Exists(work) && Directory.EnumerateFiles(work, "*", SearchOption.AllDirectories).Any()))
            {
                await Task.Delay(50, deadline.Token);
            }
        }

        // A second run while the first holds the job table: refused, in one line.
        var second = await ClusterFixture.RunGedgeAsync(["run", TestClips.Road, "--out", Path.Combine(_scratch, "second")], folder);
        Assert.Equal(1, second.ExitCode);
        Assert.Matches(@"^gedge: the job table in \S+ is in use by another gedge process \(its lock, \S+garnet\.lock, is held\); wait for it to end, or run in another folder\.\r?\n$", second.Error);

        killed.Kill();
        await killed.WaitForExitAsync();
        Assert.True(Directory.EnumerateFiles(work, "*", SearchOption.AllDirectories).Any(), "the killed run left its frames");
        // What an older version left of a job the table no longer knows (its data folder deleted, say).
        var unknown = Path.Combine(Path.GetDirectoryName(work)!, "77");
        Directory.CreateDirectory(unknown);
        await File.WriteAllTextAsync(Path.Combine(unknown, "frames.json"), "{}");

        var next = await ClusterFixture.RunGedgeAsync(["run", TestClips.Road, "--out", Path.Combine(_scratch, "next")], folder);

        Assert.True(next.ExitCode == 0, $"gedge run failed:{Environment.NewLine}{next.Error}{next.Output}");
        Assert.Contains("gedge: 1 job(s) of earlier runs here had not ended (their run was killed): ended now, their intermediates removed", next.Error, StringComparison.Ordinal);
        Assert.Contains("gedge: removed the intermediates earlier runs here left of 1 ended or unknown job(s)", next.Error, StringComparison.Ordinal);
        Assert.Contains("job 2 done in ", next.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(work), "the killed run's intermediates are still there");
        Assert.False(Directory.Exists(unknown), "the unknown job's intermediates are still there");
        var jobs = Path.GetDirectoryName(work)!;
        Assert.False(Directory.Exists(jobs) && Directory.EnumerateFileSystemEntries(jobs).Any(), "intermediates are left in the work bucket");
        var earlier = await ClusterFixture.RunGedgeAsync(["job", "1", "--json"], folder);
        using var record = JsonDocument.Parse(earlier.Output);
        Assert.Equal(nameof(JobStatus.Exit), record.RootElement.GetProperty(JobFields.Status).GetString());
        Assert.Equal(GEdge.Cli.EmbeddedPipeline.OrphanedReason, record.RootElement.GetProperty(JobFields.Error).GetString());
    }

    [Fact]
    public async Task RunAndSubmit_OfAVideoThatCannotBeProcessed_Exit1_WithTheJobsReason_AndWriteNoResults()
    {
        // The first 64 KiB of the sample: it starts as an MP4 does (the upload is taken), but cannot be decoded.
        var cut = Path.Combine(_scratch, "cut.mp4");
        await File.WriteAllBytesAsync(cut, (await File.ReadAllBytesAsync(TestClips.Road))[..(64 * 1024)]);
        var folder = Path.Combine(_scratch, "embedded-cut");
        Directory.CreateDirectory(folder);

        var run = await ClusterFixture.RunGedgeAsync(["run", cut, "--out", Path.Combine(_scratch, "run-out")], folder);
        var submit = await ClusterFixture.RunGedgeAsync(
            ["submit", cut, "--server", cluster.Gateway.ToString(), "--api-key", cluster.ApiKey, "--out", Path.Combine(_scratch, "submit-out")], _scratch);

        foreach (var (command, result) in new[] { ("run", run), ("submit", submit) })
        {
            Assert.True(result.ExitCode == 1, $"gedge {command} exited {result.ExitCode}:{Environment.NewLine}{result.Error}");
            var last = result.Error.TrimEnd().Split('\n')[^1];
            Assert.Matches(@"^gedge: job \d+ failed: Preprocessing failed: ", last);
            Assert.Contains("cut.mp4", last, StringComparison.Ordinal);
            Assert.DoesNotContain("done in", result.Output, StringComparison.Ordinal);
        }

        Assert.False(Directory.Exists(Path.Combine(_scratch, "run-out")), "gedge run wrote results for a failed job");
        Assert.False(Directory.Exists(Path.Combine(_scratch, "submit-out")), "gedge submit wrote results for a failed job");
    }

    [Fact]
    public async Task Run_WithTimings_WritesWhereTheProcessTimeWent_EachPartInTheOrderItRan()
    {
        var folder = Path.Combine(_scratch, "timed");
        Directory.CreateDirectory(folder);
        var file = Path.Combine(_scratch, "timings.json");

        var run = await ClusterFixture.RunGedgeAsync(["run", TestClips.Road, "--out", Path.Combine(_scratch, "timed-out"), "--timings", file], folder);

        Assert.True(run.ExitCode == 0, $"gedge run failed:{Environment.NewLine}{run.Error}{run.Output}");
        Assert.Contains("start-up part", run.Error, StringComparison.Ordinal);
        var parts = (await GEdge.Cli.StartupTimeline.ReadAsync(file, CancellationToken.None)).ToDictionary(p => p.Name);
        // Every part the start-up view promises, from the runtime's start to the job table's checkpoint at the end.
        string[] expected =
        [
            "runtime", "host build", "job table server", "job table connection", "model session", "host start", "earlier runs", "job",
            "ffprobe", "ffmpeg decode check", "ffmpeg cutter", "ffmpeg band encoder", "ffmpeg band decoder", "inference",
            "ffmpeg decoder", "ffmpeg encoder", "ffmpeg joiner", "results", "shutdown", "job table checkpoint", "first inference",
        ];
        Assert.Empty(expected.Except(parts.Keys));
        Assert.Equal(0, parts["runtime"].AtMs);
        Assert.All(parts.Values, part => Assert.True(part.AtMs >= 0 && part.TookMs >= 0, $"{part} has a negative time"));
        double End(string name) => parts[name].AtMs + parts[name].TookMs;
        // Order, not speed: what waits for what begins after it ends (a millisecond's slack for the clocks' rounding).
        Assert.True(parts["job table connection"].AtMs >= End("job table server") - 1, "the connection began before its server had started");
        Assert.True(parts["job"].AtMs >= End("host start") - 1, "the job began before the host had started");
        // The session's first run is the start-up's: after the session loads, before any job.
        Assert.True(parts["first inference"].AtMs >= End("model session") - 1, "the first inference ran before the session had loaded");
        Assert.True(parts["job"].AtMs >= End("first inference") - 1, "the job began before the session's first run had ended");
        foreach (var stagePart in expected[8..17])
        {
            Assert.InRange(parts[stagePart].AtMs, parts["job"].AtMs, End("job"));
        }

        Assert.True(parts["ffmpeg band decoder"].AtMs >= End("ffmpeg band encoder") - 1, "Infer read frames before Preprocess had written them");
        Assert.True(parts["shutdown"].AtMs >= End("results") - 1, "the shutdown began before the results were fetched");
        Assert.InRange(parts["job table checkpoint"].AtMs, parts["shutdown"].AtMs, End("shutdown"));
    }

    [Fact]
    public async Task DetectJobsAndJob_PrintWhatTheyFound_InTheirTablesAndAsJson()
    {
        var folder = Path.Combine(_scratch, "commands");
        Directory.CreateDirectory(folder);
        var dog = Path.Combine(AppContext.BaseDirectory, "assets", "images", "dog.jpg");

        var table = await ClusterFixture.RunGedgeAsync(["detect", dog], folder);
        var json = await ClusterFixture.RunGedgeAsync(["detect", dog, "--json"], folder);
        var run = await ClusterFixture.RunGedgeAsync(["run", TestClips.Road, "--out", Path.Combine(_scratch, "commands-out")], folder);
        var jobs = await ClusterFixture.RunGedgeAsync(["jobs"], folder);
        var job = await ClusterFixture.RunGedgeAsync(["job", "1"], folder);
        var none = await ClusterFixture.RunGedgeAsync(["job", "2"], folder);

        // darknet's dog.jpg: a dog and a bicycle, whatever else the detector sees (drawn by hand from the picture).
        Assert.Equal(0, table.ExitCode);
        var lines = table.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^dog\.jpg \(768x576\): \d+ objects$", lines[0]);
        Assert.Equal(["label", "score", "x", "y", "width", "height"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var labels = lines[2..].Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]).ToList();
        Assert.Contains("dog", labels);
        Assert.Contains("bicycle", labels);
        Assert.Equal(int.Parse(Regex.Match(lines[0], @"(\d+) objects").Groups[1].Value, CultureInfo.InvariantCulture), labels.Count);
        Assert.Equal(0, json.ExitCode);
        using var detections = JsonDocument.Parse(json.Output);
        Assert.Equal(labels, detections.RootElement.EnumerateArray().Select(d => d.GetProperty("label").GetString()));

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Equal(0, jobs.ExitCode);
        var rows = jobs.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["id", "user", "status", "iteration", "start_time", "end_time", "type", "path"], rows[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var row = Assert.Single(rows[1..]).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["1", "local", "Exit", "0"], row[..4]);
        Assert.Equal("mp4", row[^2]);
        Assert.Matches(@"^uploads/local/[0-9T]+-[0-9a-f]{8}/road\.mp4$", row[^1]);
        Assert.Equal(0, job.ExitCode);
        // The record, a blank line, then where the job's time went, a row per stage between the cut and the join.
        var sections = job.Output.Split("\n\n", 2);
        var fields = sections[0].Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(parts => parts[0], parts => parts[1].Trim());
        Assert.Equal(("1", "local", "Exit", "0"), (fields["id"], fields["user"], fields["status"], fields["iteration"]));
        var breakdown = sections[1].Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Equal(["stage", "cut", "preprocess", "infer", "postprocess", "join", "total"], breakdown.Select(row => row[0]));
        foreach (var stage in breakdown.Where(row => row[0] is "preprocess" or "infer" or "postprocess"))
        {
            // Segments done, attempts, retries.
            Assert.Equal([fields["segments"], fields["segments"], "0"], stage[1..4]);
        }
        Assert.Equal((1, "gedge: there is no job 2."), (none.ExitCode, none.Error.Trim()));
    }

    [Fact]
    public Task Cancel_OnTheMultiProcessCluster_EndsTheJob_StopsTheStageAtWork_AndLeavesNoIntermediates() =>
        ClusterScenarios.CancelMidJobAsync(cluster);

    // The id of the one job of a user, once gedge run has made it.
    private async Task<long> JobOfAsync(string user)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (true)
        {
            if ((await cluster.Jobs.ListByUserAsync(user, 0, 1)).Jobs is [var job])
            {
                return job.Id;
            }

            await Task.Delay(20, deadline.Token);
        }
    }

    [Fact]
    public Task Submit_RunsTheJobThroughTheFourFunctionProcesses_AndGivesWhatGedgeRunGives() =>
        ClusterScenarios.SubmitGivesWhatRunGivesAsync(cluster, _scratch);

    [Theory]
    [InlineData(ContentMode.Binary, 900_001)]
    [InlineData(ContentMode.Structured, 900_002)]
    public async Task StageProcess_TakesAnEventInEitherContentMode(ContentMode mode, long jobId)
    {
        var enqueued = GEdgeEvents.CreateJobStatusChanged(jobId, JobStatus.Enqueue, 0, s_source);

        using var response = await cluster.Events.PostAsync(cluster.Services["preprocess"], enqueued.ToHttpContent(mode, s_formatter));

        // 202: read, handed to the stage, nothing to reply; the stage found no such job to claim.
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Single(await cluster.WaitForLogLinesAsync("preprocess", $"{jobId} not taken for Preprocessing", 1));
    }

    public static TheoryData<string, Func<long, HttpContent>> MalformedEvents => new()
    {
        { "binary mode without ce-id", jobId => Binary(jobId, headers => headers.Remove("ce-id")) },
        { "a jobstatus attribute that is not the data's status", jobId => Binary(jobId, headers => headers.Remove("ce-jobstatus"), extra: ("ce-jobstatus", "Inferencing_complete")) },
        { "data without a job id", jobId => Binary(jobId, body: """{"status":"Enqueue"}""") },
        { "data that is not JSON", jobId => Binary(jobId, body: "{job") },
        { "an event type G-Edge does not handle", jobId => Binary(jobId, headers => headers.Remove("ce-type"), extra: ("ce-type", "com.example.other")) },
        { "structured mode that is not JSON", _ => new StringContent("{specversion", Encoding.UTF8, "application/cloudevents+json") },
        { "batch mode", jobId => new StringContent($"[{Structured(jobId)}]", Encoding.UTF8, "application/cloudevents-batch+json") },
    };

    [Theory]
    [MemberData(nameof(MalformedEvents))]
    public async Task StageProcess_WhenTheEventIsMalformed_Answers400_AndLeavesTheJobTableAsItWas(string malformation, Func<long, HttpContent> content)
    {
        var job = (await cluster.Jobs.CreateAsync(new NewJob("erin", $"uploads/erin/{Guid.NewGuid():N}/clip.mp4", "mp4", "etag"))).Job;
        var before = await SnapshotAsync();

        using var response = await cluster.Events.PostAsync(cluster.Services["preprocess"], content(job.Id));

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{malformation}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(before, await SnapshotAsync());
        Assert.Equal(JobStatus.Enqueue, (await cluster.Jobs.GetAsync(job.Id))!.Status);
    }

    [Fact]
    public async Task Broker_TakesEventsInEitherContentMode_AndRefusesAMalformedOne()
    {
        // Exit events match no Trigger: accepted, and nothing is delivered anywhere.
        var exit = GEdgeEvents.CreateJobStatusChanged(900_003, JobStatus.Exit, 0, s_source);

        using var binary = await cluster.Events.PostAsync(cluster.Services["broker"], exit.ToHttpContent(ContentMode.Binary, s_formatter));
        using var structured = await cluster.Events.PostAsync(cluster.Services["broker"], exit.ToHttpContent(ContentMode.Structured, s_formatter));
        using var malformed = await cluster.Events.PostAsync(cluster.Services["broker"], new StringContent("{}", Encoding.UTF8, "application/json"));

        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.BadRequest), (binary.StatusCode, structured.StatusCode, malformed.StatusCode));
        Assert.Equal(2, (await cluster.WaitForLogLinesAsync("broker", "Accepted job-900003-Exit-0 (dev.gedge.job.status.changed, jobstatus Exit) for no trigger", 2)).Count);
    }

    [Fact]
    public async Task DeadLetter_EndsTheJobTheLostEventAnnounced_WithTheFailedDelivery()
    {
        var job = (await cluster.Jobs.CreateAsync(new NewJob("grace", $"uploads/grace/{Guid.NewGuid():N}/clip.mp4", "mp4", "etag"))).Job;
        var lost = GEdgeEvents.CreateJobStatusChanged(job.Id, JobStatus.Enqueue, 0, s_source);
        DeadLetterAttributes.Set(lost, new Uri("http://127.0.0.1:9/"), 503, "the job table is unavailable"u8);

        using var response = await cluster.Events.PostAsync(new Uri(cluster.Gateway, "events/dead-letter"), lost.ToHttpContent(ContentMode.Binary, s_formatter));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var ended = (await cluster.Jobs.GetAsync(job.Id))!;
        Assert.Equal(JobStatus.Exit, ended.Status);
        Assert.Equal("The Enqueue event could not be delivered: delivery to http://127.0.0.1:9/ failed with HTTP 503: the job table is unavailable", ended.Error);
        Assert.NotNull(ended.EndTime);
    }

    [Fact]
    public async Task DeadLetter_WhenTheJobHasMovedOn_LeavesItAlone()
    {
        var job = (await cluster.Jobs.CreateAsync(new NewJob("grace", $"uploads/grace/{Guid.NewGuid():N}/clip.mp4", "mp4", "etag"))).Job;
        Assert.True(await cluster.Jobs.TryClaimAsync(job.Id, JobStatus.Preprocessing));
        var duplicate = GEdgeEvents.CreateJobStatusChanged(job.Id, JobStatus.Enqueue, 0, s_source);
        DeadLetterAttributes.Set(duplicate, new Uri("http://127.0.0.1:9/"), null, "connection refused"u8);

        using var response = await cluster.Events.PostAsync(new Uri(cluster.Gateway, "events/dead-letter"), duplicate.ToHttpContent(ContentMode.Structured, s_formatter));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var untouched = (await cluster.Jobs.GetAsync(job.Id))!;
        Assert.Equal(JobStatus.Preprocessing, untouched.Status);
        Assert.Null(untouched.Error);
    }

    public static TheoryData<string, string> EventEndpoints => new()
    {
        { "gateway", "/" },
        { "gateway", "/events/dead-letter" },
        { "gateway", "/events/sweep" },
        { "broker", "/" },
        { "preprocess", "/" },
        { "infer", "/" },
        { "postprocess", "/" },
    };

    [Theory]
    [MemberData(nameof(EventEndpoints))]
    public async Task EveryEventEndpoint_RefusesASenderWithoutTheClustersToken_With401_AndChangesNothing(string process, string path)
    {
        // Another user's waiting job, and what an attacker would send for it: a dead letter ending it, an upload making a
        // job for someone else, a status event moving it on.
        var job = (await cluster.Jobs.CreateAsync(new NewJob("heidi", $"uploads/heidi/{Guid.NewGuid():N}/clip.mp4", "mp4", "etag"))).Job;
        var forged = path == "/events/dead-letter" ? GEdgeEvents.CreateJobStatusChanged(job.Id, JobStatus.Enqueue, 0, s_source)
            : process == "gateway" && path == "/" ? GEdgeEvents.CreateVideoUploaded(new VideoUploaded("mallory", "uploads", "mallory/x.mp4", "etag", 1), s_source)
            : GEdgeEvents.CreateJobStatusChanged(job.Id, JobStatus.Enqueue, 0, s_source);
        if (path == "/events/dead-letter")
        {
            DeadLetterAttributes.Set(forged, new Uri("http://127.0.0.1:9/"), 500, "pwned"u8);
        }

        var before = await SnapshotAsync();
        var target = new Uri(cluster.Services[process], path);

        using var anonymous = await cluster.Http.PostAsync(target, forged.ToHttpContent(ContentMode.Binary, s_formatter));
        using var wrong = new HttpRequestMessage(HttpMethod.Post, target) { Content = forged.ToHttpContent(ContentMode.Binary, s_formatter) };
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", cluster.ApiKey);
        using var withAnApiKey = await cluster.Http.SendAsync(wrong);

        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized), (anonymous.StatusCode, withAnApiKey.StatusCode));
        Assert.Equal(before, await SnapshotAsync());
        Assert.Equal(JobStatus.Enqueue, (await cluster.Jobs.GetAsync(job.Id))!.Status);
        Assert.True((await cluster.WaitForLogLinesAsync(process, $"Refused an event on {path} from 127.0.0.1: ", 2)).Count >= 2, $"{process} logged no refusal on {path}");
    }

    [Fact]
    public async Task Intake_RefusesAnUploadEventTheUploadApiWouldRefuse_AndMakesNoJob()
    {
        var before = await SnapshotAsync();
        foreach (var (bucket, key) in new[] { ("uploads", "mallory/notes.txt"), ("results", "local/1/annotated.mp4"), ("work", "jobs/1/frames.mp4") })
        {
            var uploaded = GEdgeEvents.CreateVideoUploaded(new VideoUploaded(key[..key.IndexOf('/', StringComparison.Ordinal)], bucket, key, "etag", 1), s_source);

            using var response = await cluster.Events.PostAsync(cluster.Gateway, uploaded.ToHttpContent(ContentMode.Binary, s_formatter));

            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{bucket}/{key}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task JobsApi_TakesAMultipartUpload_AndAVideoThatIsCutOffEndsInExitWithTheReason_WithoutResults()
    {
        // An MP4 by its first bytes (so the gateway takes it), cut off after them (so no stage can decode it).
        var head = (await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "assets", "road.mp4")))[..(32 * 1024)];
        using var form = new MultipartFormDataContent { { new ByteArrayContent(head), "video", "cut.mp4" } };

        using var created = await cluster.Api.PostAsync("api/jobs", form);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var submitted = (await created.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView))!;
        var id = long.Parse(submitted.Job[JobFields.Id], CultureInfo.InvariantCulture);
        Assert.Equal($"/api/jobs/{id}", created.Headers.Location?.OriginalString);
        Assert.Equal(("local", "mp4", "Enqueue"), (submitted.Job[JobFields.User], submitted.Job[JobFields.Type], submitted.Job[JobFields.Status]));
        Assert.Matches($"^uploads/local/[0-9T]+-[0-9a-f]{{8}}/cut.mp4$", submitted.Job[JobFields.Path]);
        Assert.Empty(submitted.Results);

        var failed = await cluster.WaitForExitAsync(id, TimeSpan.FromMinutes(1));
        Assert.StartsWith("Preprocessing failed: ", failed.Job[JobFields.Error], StringComparison.Ordinal);
        Assert.Contains("cut.mp4", failed.Job[JobFields.Error], StringComparison.Ordinal);
        // Ended at once, with no restart: bad from the start is not retried.
        Assert.Equal("0", failed.Job[JobFields.Iteration]);
        Assert.Equal([JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Exit], failed.History.Select(t => t.Status));
        Assert.Empty(failed.Results);
        using var results = await cluster.Api.GetAsync($"api/jobs/{id}/video");
        Assert.Equal(HttpStatusCode.Conflict, results.StatusCode);
        using var anonymous = await cluster.Http.GetAsync(new Uri(cluster.Gateway, $"api/jobs/{id}"));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    public static TheoryData<string, string, HttpStatusCode> RefusedUploads => new()
    {
        { "api/jobs", "application/octet-stream", HttpStatusCode.BadRequest },
        { "api/jobs?name=notes.txt", "application/octet-stream", HttpStatusCode.UnsupportedMediaType },
        { "api/jobs?name=notes.mp4", "application/octet-stream", HttpStatusCode.UnsupportedMediaType },
        { "api/jobs", "multipart/form-data; boundary=x", HttpStatusCode.BadRequest },
    };

    [Theory]
    [MemberData(nameof(RefusedUploads))]
    public async Task JobsApi_RefusesAnUploadItCannotTake_AndMakesNoJob(string path, string contentType, HttpStatusCode status)
    {
        var before = await SnapshotAsync();
        using var body = new ByteArrayContent("not read"u8.ToArray());
        body.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);

        using var response = await cluster.Api.PostAsync(path, body);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(before, await SnapshotAsync());
        var uploads = Path.Combine(cluster.Storage, "uploads");
        Assert.DoesNotContain(
            Directory.Exists(uploads) ? Directory.EnumerateFiles(uploads, "*", SearchOption.AllDirectories) : [],
            file => Path.GetFileName(file).StartsWith("notes", StringComparison.Ordinal));
    }

    private static HttpContent Binary(long jobId, Action<HttpContentHeaders>? edit = null, (string Name, string Value)? extra = null, string? body = null)
    {
        var content = GEdgeEvents.CreateJobStatusChanged(jobId, JobStatus.Enqueue, 0, s_source).ToHttpContent(ContentMode.Binary, s_formatter);
        if (body is not null)
        {
            var replaced = new StringContent(body, Encoding.UTF8, "application/json");
            foreach (var header in content.Headers.Where(h => h.Key.StartsWith("ce-", StringComparison.Ordinal)))
            {
                replaced.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            content.Dispose();
            content = replaced;
        }

        edit?.Invoke(content.Headers);
        if (extra is { } added)
        {
            content.Headers.TryAddWithoutValidation(added.Name, added.Value);
        }

        return content;
    }

    private static string Structured(long jobId) =>
        Encoding.UTF8.GetString(s_formatter.EncodeStructuredModeMessage(GEdgeEvents.CreateJobStatusChanged(jobId, JobStatus.Enqueue, 0, s_source), out _).Span);

    // Every key of the job table with its serialized value: equal snapshots mean nothing was written.
    private async Task<IReadOnlyDictionary<string, string>> SnapshotAsync()
    {
        var server = cluster.Redis.GetServer(cluster.Redis.GetEndPoints()[0]);
        var database = cluster.Redis.GetDatabase();
        var snapshot = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await foreach (var key in server.KeysAsync(pattern: "*"))
        {
            snapshot[key.ToString()] = Convert.ToBase64String(await database.KeyDumpAsync(key) ?? []);
        }

        return snapshot;
    }

}
