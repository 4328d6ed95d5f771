using System.Collections.Concurrent;
using System.Diagnostics;
using GEdge.Stages;

namespace GEdge.Pipeline.Tests;

/// <summary>
/// A job is one trace: the upload's span starts it, every stage's span for an event is a child of the span that published
/// that event (the trace context rides on the event as the CloudEvents Distributed Tracing extension), so each segment's
/// spans form a chain from the cut to its postprocess, and the join follows the last of them.
/// </summary>
public sealed class JobTracingTests(ShortSegmentsPipelineFixture pipeline) : IClassFixture<ShortSegmentsPipelineFixture>
{
    private static readonly ActivitySource s_test = new("GEdge.Tests.Tracing");

    [Fact]
    public async Task AJob_IsOneTrace_EachStageSpanAChildOfTheSpanThatPublishedItsEvent()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "GEdge.Stages" or "GEdge.Tests.Tracing",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);

        ActivityTraceId trace;
        ActivitySpanId upload;
        long jobId;
        using (var root = s_test.StartActivity("upload"))
        {
            Assert.NotNull(root);
            (trace, upload) = (root.TraceId, root.SpanId);
            var job = await pipeline.RunAsync(EmbeddedPipelineTests.Asset("road.mp4"), "alice");
            Assert.Null(job.Error);
            jobId = job.Id;
        }

        // Other tests' jobs run meanwhile: this job's spans are those of its trace.
        var mine = spans.Where(s => s.Source == JobStage.Activities && s.TraceId == trace).ToList();
        var segments = mine.Count(s => s.DisplayName == "preprocess segment");
        Assert.True(segments > 1, $"road.mp4 was cut into {segments} segment(s) at one second each");
        Assert.All(mine, s => Assert.Equal(jobId, s.GetTagItem("gedge.job.id")));
        var cut = Assert.Single(mine, s => s.DisplayName == "preprocess cut");
        Assert.Equal(upload, cut.ParentSpanId);
        for (var segment = 0; segment < segments; segment++)
        {
            var preprocess = SpanOf(mine, "preprocess segment", segment);
            var infer = SpanOf(mine, "infer segment", segment);
            var postprocess = SpanOf(mine, "postprocess segment", segment);
            Assert.Equal(cut.SpanId, preprocess.ParentSpanId);
            Assert.Equal(preprocess.SpanId, infer.ParentSpanId);
            Assert.Equal(infer.SpanId, postprocess.ParentSpanId);
            Assert.All(new[] { preprocess, infer, postprocess }, s => Assert.Equal(ActivityStatusCode.Unset, s.Status));
        }

        var join = Assert.Single(mine, s => s.DisplayName == "postprocess join");
        Assert.Contains(mine, s => s.DisplayName == "postprocess segment" && s.SpanId == join.ParentSpanId);
        Assert.Equal(3 * segments + 2, mine.Count);
    }

    private static Activity SpanOf(List<Activity> spans, string name, int segment) =>
        Assert.Single(spans, s => s.DisplayName == name && Equals(s.GetTagItem("gedge.segment"), segment));
}
