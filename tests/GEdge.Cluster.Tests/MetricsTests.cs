using System.Globalization;
using System.Net;
using System.Text;
using GEdge.Contracts;
using GEdge.JobTable;

namespace GEdge.Cluster.Tests;

/// <summary>
/// A cluster with segments of about a second, scraped every second by a real Prometheus server through the scrape
/// configuration <c>gedge serve</c> writes (its interval shortened for the test).
/// </summary>
public sealed class MetricsClusterFixture : ClusterFixture
{
    /// <summary>The Prometheus server scraping every process.</summary>
    public PrometheusServer Prometheus { get; private set; } = null!;

    protected override IReadOnlyDictionary<string, string> ServeEnvironment => new Dictionary<string, string> { ["Segments__Seconds"] = "1" };

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var written = await File.ReadAllTextAsync(Path.Combine(Root, ".gedge", "cluster", "prometheus.yml"));
        const string Interval = "scrape_interval: 5s";
        Assert.Contains(Interval, written, StringComparison.Ordinal);
        var config = Path.Combine(Root, "prometheus-1s.yml");
        await File.WriteAllTextAsync(config, written.Replace(Interval, "scrape_interval: 1s", StringComparison.Ordinal));
        Prometheus = await PrometheusServer.StartAsync(config);
    }

    public override async Task DisposeAsync()
    {
        if (Prometheus is not null)
        {
            await Prometheus.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}

/// <summary>
/// On <c>gedge serve</c>, every process answers <c>/metrics</c>, and what they count adds up, read back through
/// Prometheus' own query API: each stage's duration count is the number of segments, every stage-labelled series has
/// every stage, each job passes each of the eight statuses once, and a refused upload is counted under its reason.
/// </summary>
[Collection(OneClusterAtATime.Name)]
public sealed class MetricsTests(MetricsClusterFixture cluster) : IClassFixture<MetricsClusterFixture>
{
    private static readonly string[] s_stages = [.. PipelineTopology.Stages.Select(stage => stage.Name).Order(StringComparer.Ordinal)];

    private static readonly string[] s_stageSeries =
    [
        "gedge_stage_duration_seconds_count", "gedge_stage_queue_wait_seconds_count", "gedge_stage_in_flight_segments",
        "gedge_stage_frames_total", "gedge_stage_retries_total", "gedge_stage_give_backs_total", "gedge_sweeper_take_backs_total",
    ];

    [Fact]
    public async Task TwoJobsAndARefusedUpload_AreCountedByTheProcessesThatDidThem_AndAddUpInPrometheus()
    {
        // Every process is a target, and answers its scrape.
        var up = await WaitForAsync("up", result => result.Count == cluster.Services.Count && result.All(s => s.Value == 1));
        Assert.Equal(cluster.Services.Keys.Order(StringComparer.Ordinal), up.Select(s => s.Labels["process"]).Order(StringComparer.Ordinal));

        var first = await cluster.SubmitAsync(TestClips.Road);
        var second = await cluster.SubmitAsync(await TestClips.ShortAsync());
        using (var notAVideo = new ByteArrayContent(Encoding.UTF8.GetBytes("These are my notes, saved with the wrong name.\n")))
        using (var refused = await cluster.Api.PostAsync("api/jobs?name=notes.mp4", notAVideo))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, refused.StatusCode);
        }

        Job[] jobs = [await cluster.WaitForJobExitAsync(first, TimeSpan.FromMinutes(2)), await cluster.WaitForJobExitAsync(second, TimeSpan.FromMinutes(2))];
        Assert.All(jobs, job => Assert.Null(job.Error));
        var segments = jobs.Sum(job => job.Segments ?? 0);
        Assert.True(segments >= 3, $"the two clips were cut into {segments} segments at one second each");
        var frames = jobs.Sum(job => int.Parse(job.Fields[SegmentFields.Frames], CultureInfo.InvariantCulture));

        // Each stage's duration count is the number of segments it completed: every one, once, in whichever process.
        var durations = await WaitForAsync(
            "sum by (stage) (gedge_stage_duration_seconds_count)", result => result.Count == 3 && result.All(s => s.Value == segments));
        Assert.Equal(s_stages, durations.Select(s => s.Labels["stage"]).Order(StringComparer.Ordinal));
        // No stage-labelled series is missing a stage.
        foreach (var series in s_stageSeries)
        {
            var stages = await cluster.Prometheus.QueryAsync($"count by (stage) ({series})");
            Assert.True(s_stages.SequenceEqual(stages.Select(s => s.Labels["stage"]).Order(StringComparer.Ordinal)), $"{series} has the stages {string.Join(", ", stages.Select(s => s.Labels["stage"]))}");
        }

        // Each process is scraped on its own second, so a count made after the last segment's (the join's, the Exit's)
        // may show a scrape later: every expectation is waited for as the first was.
        await WaitForEachAsync("sum by (stage) (gedge_stage_queue_wait_seconds_count)", "stage", segments, s_stages);
        await WaitForEachAsync("sum by (stage) (gedge_stage_frames_total)", "stage", frames, s_stages);
        await WaitForEachAsync("sum by (stage) (gedge_stage_in_flight_segments)", "stage", 0, s_stages);
        await WaitForAsync("sum(gedge_inference_duration_seconds_count)", result => Single(result) == frames);
        await WaitForAsync("sum(gedge_cut_duration_seconds_count)", result => Single(result) == 2);
        await WaitForAsync("sum(gedge_join_duration_seconds_count)", result => Single(result) == 2);

        // Each job entered each of the eight statuses once, counted by whichever process moved it (the gateway created
        // it, Preprocess claimed and cut it, its last segments moved it on, Postprocess closed it); each segment each of
        // its seven.
        var statuses = JobStateMachine.Statuses.Select(status => status.ToString()).Order(StringComparer.Ordinal).ToArray();
        await WaitForEachAsync("sum by (status) (gedge_job_transitions_total)", "status", 2, statuses);
        await WaitForEachAsync("sum by (status) (gedge_segment_transitions_total{status!=\"Exit\"})", "status", segments, [.. statuses.Where(s => s != nameof(JobStatus.Exit))]);
        await WaitForEachAsync("sum by (status) (gedge_segment_transitions_total{status=\"Exit\"})", "status", 0, [nameof(JobStatus.Exit)]);

        await WaitForAsync("sum(gedge_uploads_accepted_total)", result => Single(result) == 2);
        var refusals = await cluster.Prometheus.QueryAsync("sum by (reason) (gedge_uploads_refused_total)");
        Assert.Equal(1, refusals.Single(s => s.Labels["reason"] == GEdge.Metrics.UploadRefusal.NotAVideo).Value);
        Assert.All(refusals.Where(s => s.Labels["reason"] != GEdge.Metrics.UploadRefusal.NotAVideo), s => Assert.Equal(0, s.Value));
        Assert.Equal(0, Single(await cluster.Prometheus.QueryAsync("sum(gedge_stage_retries_total) + sum(gedge_dead_letters_total) + sum(gedge_sweeper_take_backs_total)")));

        // The broker's own: each Service it delivers to has its one pod here (none is scaled to zero), and nothing is
        // left unanswered once the jobs are done.
        var pods = await WaitForAsync("gedge_broker_ready_pods", result => result.Count == 4 && result.All(s => s.Value == 1));
        Assert.Equal(["gateway-events", .. s_stages.Order(StringComparer.Ordinal)], pods.Select(s => s.Labels["service"]).Order(StringComparer.Ordinal));
        await WaitForAsync("sum(gedge_broker_requests)", result => Single(result) == 0);
    }

    // Polls an instant query (every 250 ms, 30 s at most) until what it answers satisfies until: Prometheus sees a count
    // only at its next scrape of the process that made it.
    private async Task<IReadOnlyList<PrometheusSample>> WaitForAsync(string query, Func<IReadOnlyList<PrometheusSample>, bool> until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var result = await cluster.Prometheus.QueryAsync(query);
            if (until(result))
            {
                return result;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"'{query}' still answers {Describe(result)} after 30 s.{Environment.NewLine}Prometheus: {cluster.Prometheus.Output}");
            }

            await Task.Delay(250);
        }
    }

    // Waits until query answers a series for each of values (by label), each expected.
    private Task<IReadOnlyList<PrometheusSample>> WaitForEachAsync(string query, string label, double expected, IReadOnlyList<string> values) =>
        WaitForAsync(query, result =>
            values.SequenceEqual(result.Select(s => s.Labels[label]).Order(StringComparer.Ordinal)) && result.All(s => s.Value == expected));

    private static double Single(IReadOnlyList<PrometheusSample> result) => result.Count == 1 ? result[0].Value : double.NaN;

    private static string Describe(IReadOnlyList<PrometheusSample> result) =>
        result.Count == 0 ? "nothing" : string.Join("; ", result.Select(s => $"{{{string.Join(",", s.Labels.Select(l => $"{l.Key}={l.Value}"))}}} {s.Value}"));
}
