using GEdge.JobTable;

namespace GEdge.Cluster.Tests;

/// <summary>
/// A cluster whose processes export their traces over OTLP/HTTP to a receiver the test hosts, promptly (a 100 ms batch
/// delay), with segments of about a second.
/// </summary>
public sealed class TracingClusterFixture : ClusterFixture
{
    /// <summary>What the processes sent.</summary>
    public OtlpReceiver Receiver { get; private set; } = null!;

    protected override IReadOnlyDictionary<string, string> ServeEnvironment => new Dictionary<string, string>
    {
        ["Segments__Seconds"] = "1",
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Receiver.Endpoint.ToString().TrimEnd('/'),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
    };

    public override async Task InitializeAsync()
    {
        Receiver = await OtlpReceiver.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

/// <summary>
/// On <c>gedge serve</c>, a job is one trace across the separate processes: the gateway's upload request starts it, and
/// each stage's span, exported by its own process, is a child of the span that published the event it handled.
/// </summary>
[Collection(OneClusterAtATime.Name)]
public sealed class TracingTests(TracingClusterFixture cluster) : IClassFixture<TracingClusterFixture>
{
    private static readonly string[] s_stageServices = ["gedge-infer", "gedge-postprocess", "gedge-preprocess"];

    [Fact]
    public async Task AJobOnServe_IsOneTraceAcrossTheProcesses_EachStageSpanAChildOfTheSpanThatPublishedItsEvent()
    {
        var id = await cluster.SubmitAsync(TestClips.Road);
        var job = await cluster.WaitForJobExitAsync(id, TimeSpan.FromMinutes(2));
        Assert.Null(job.Error);
        var segments = job.Segments ?? 0;
        Assert.True(segments > 1, $"road.mp4 was cut into {segments} segment(s) at one second each");

        // The processes export in batches: wait for the join's span, the last of the job's.
        var jobId = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        List<ReceivedSpan> stages = [];
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while ((stages = [.. cluster.Receiver.Spans.Where(s => s.Attribute("gedge.job.id") == jobId)]).Count < (3 * segments) + 2)
            {
                await Task.Delay(100, deadline.Token);
            }
        }

        var trace = Assert.Single(stages.Select(s => s.TraceId).Distinct());
        // The job's record names its trace, as the API and the dashboard show it.
        Assert.Equal(trace, job.TraceId);
        var all = cluster.Receiver.Spans.Where(s => s.TraceId == trace).ToDictionary(s => s.SpanId);
        // Each stage ran in its own process, each named as its Service.
        Assert.Equal(s_stageServices, stages.Select(s => s.Service).Distinct().Order(StringComparer.Ordinal));
        var cut = Assert.Single(stages, s => s.Span.Name == "preprocess cut");
        var upload = all[cut.ParentSpanId];
        Assert.Equal("gedge-gateway", upload.Service);
        Assert.StartsWith("POST", upload.Span.Name, StringComparison.Ordinal);
        for (var segment = 0; segment < segments; segment++)
        {
            var preprocess = SpanOf(stages, "preprocess segment", segment);
            var infer = SpanOf(stages, "infer segment", segment);
            var postprocess = SpanOf(stages, "postprocess segment", segment);
            Assert.Equal(cut.SpanId, preprocess.ParentSpanId);
            // Each names the model and, done, the segment's frames.
            var frames = SegmentFields.FramesOf((await cluster.Jobs.GetSegmentsAsync(id))[segment].Fields)?.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.All(new[] { preprocess, infer, postprocess }, span => Assert.Equal((job.Fields[JobFields.Model], frames), (span.Attribute("gedge.model"), span.Attribute("gedge.frames"))));
            Assert.Equal(preprocess.SpanId, infer.ParentSpanId);
            Assert.Equal(infer.SpanId, postprocess.ParentSpanId);
        }

        var join = Assert.Single(stages, s => s.Span.Name == "postprocess join");
        Assert.Equal("postprocess segment", all[join.ParentSpanId].Span.Name);
        // The broker's requests are in the same trace: the events passed through it.
        Assert.Contains(all.Values, s => s.Service == "gedge-broker" && s.Span.Kind == OpenTelemetry.Proto.Trace.V1.Span.Types.SpanKind.Server);
    }

    [Fact]
    public async Task ASegmentsFailedAttempt_IsAnErrorSpan_AndItsRetryIsItsChild_InTheJobsOneTrace()
    {
        // A real fault, once: where Postprocess writes segment 0's annotated piece is a folder, so its first attempt fails;
        // the folder goes once the failure is logged, and the retry (after the backoff) writes it.
        var id = await cluster.SubmitAsync(TestClips.Road);
        var blocked = Path.Combine(cluster.WorkFolder(id), "segments", "000000", "annotated.mp4");
        Directory.CreateDirectory(blocked);
        await cluster.WaitForLogLinesAsync("postprocess", $"{id} segment 0 Postprocessing attempt failed", 1, TimeSpan.FromMinutes(2));
        Directory.Delete(blocked);
        var job = await cluster.WaitForJobExitAsync(id, TimeSpan.FromMinutes(2));
        Assert.Null(job.Error);
        Assert.Equal(1, job.Iteration);

        var jobId = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        List<ReceivedSpan> attempts = [];
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while ((attempts = [.. cluster.Receiver.Spans.Where(s => s.Attribute("gedge.job.id") == jobId && s.Span.Name == "postprocess segment" && s.Attribute("gedge.segment") == "0")]).Count < 2)
            {
                await Task.Delay(100, deadline.Token);
            }
        }

        var failed = Assert.Single(attempts, s => s.Span.Status?.Code == OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode.Error);
        var retried = Assert.Single(attempts, s => s != failed);
        Assert.Equal("attempt", failed.Attribute("gedge.failure"));
        Assert.StartsWith("segment 0: Postprocessing failed: ", failed.Span.Status.Message, StringComparison.Ordinal);
        Assert.Equal(failed.SpanId, retried.ParentSpanId);
        Assert.Equal([job.TraceId], attempts.Select(s => s.TraceId).Distinct());
    }

    private static ReceivedSpan SpanOf(List<ReceivedSpan> spans, string name, int segment) =>
        Assert.Single(spans, s => s.Span.Name == name && s.Attribute("gedge.segment") == segment.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
