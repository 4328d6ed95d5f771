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
            Assert.Equal(preprocess.SpanId, infer.ParentSpanId);
            Assert.Equal(infer.SpanId, postprocess.ParentSpanId);
        }

        var join = Assert.Single(stages, s => s.Span.Name == "postprocess join");
        Assert.Equal("postprocess segment", all[join.ParentSpanId].Span.Name);
    }

    private static ReceivedSpan SpanOf(List<ReceivedSpan> spans, string name, int segment) =>
        Assert.Single(spans, s => s.Span.Name == name && s.Attribute("gedge.segment") == segment.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
