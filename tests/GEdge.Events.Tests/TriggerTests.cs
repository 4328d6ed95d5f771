using GEdge.Contracts;
using GEdge.JobTable;

namespace GEdge.Events.Tests;

public sealed class TriggerTests
{
    private static readonly Uri s_source = new("/gedge/test", UriKind.Relative);

    // A job's own events start its cut (the first stage's function) and its join (the last's); no other is routed.
    public static TheoryData<JobStatus, string?> JobStatusRoutes => new()
    {
        { JobStatus.Enqueue, "preprocess" },
        { JobStatus.Preprocessing, null },
        { JobStatus.Preprocessing_complete, null },
        { JobStatus.Inferencing_complete, null },
        { JobStatus.Postprocessing_complete, "postprocess" },
        { JobStatus.Exit, null },
    };

    // A segment's events go to the stage that consumes them.
    public static TheoryData<JobStatus, string?> SegmentStatusRoutes => new()
    {
        { JobStatus.Enqueue, "preprocess" },
        { JobStatus.Preprocessing_complete, "infer" },
        { JobStatus.Inferencing_complete, "postprocess" },
        { JobStatus.Preprocessing, null },
        { JobStatus.Postprocessing_complete, null },
    };

    [Theory]
    [MemberData(nameof(JobStatusRoutes))]
    public void JobStatusEvents_MatchOnlyTheCutAndTheJoin(JobStatus status, string? subscriber)
    {
        var cloudEvent = GEdgeEvents.CreateJobStatusChanged(1, status, 0, s_source);

        var matched = GEdgeTriggers.All.Where(t => t.Filter.Matches(cloudEvent)).Select(t => t.Subscriber).ToList();

        Assert.Equal(subscriber is null ? [] : [subscriber], matched);
    }

    [Theory]
    [MemberData(nameof(SegmentStatusRoutes))]
    public void SegmentStatusEvents_MatchExactlyTheTriggerOfTheStageThatConsumesThem(JobStatus status, string? subscriber)
    {
        var cloudEvent = GEdgeEvents.CreateSegmentStatusChanged(1, 3, status, 0, s_source);

        var matched = GEdgeTriggers.All.Where(t => t.Filter.Matches(cloudEvent)).Select(t => t.Subscriber).ToList();

        Assert.Equal(subscriber is null ? [] : [subscriber], matched);
    }

    [Fact]
    public void SegmentEvents_RoundTrip_AndRefuseAttributesThatDisagreeWithTheData()
    {
        var cloudEvent = GEdgeEvents.CreateSegmentStatusChanged(7, 2, JobStatus.Inferencing_complete, 1, s_source);

        Assert.Equal(new SegmentStatusChanged(7, 2, JobStatus.Inferencing_complete), GEdgeEvents.ReadSegmentStatusChanged(cloudEvent));
        Assert.Equal(("job-7-segment-2-Inferencing_complete-1", "jobs/7/segments/2"), (cloudEvent.Id, cloudEvent.Subject));
        cloudEvent[GEdgeEvents.SegmentAttribute] = 3;
        Assert.Throws<InvalidEventException>(() => GEdgeEvents.ReadSegmentStatusChanged(cloudEvent));
    }

    [Fact]
    public void EachStagesFunction_TakesItsSegments_AndTheFirstCutsAndTheLastJoins_AndEveryOtherItsWarmUp()
    {
        Assert.Equal(["gedge-cut", "gedge-preprocess"], GEdgeTriggers.Of(PipelineTopology.Preprocess).Select(t => t.Name));
        Assert.Equal(["gedge-infer", "gedge-infer-warmup"], GEdgeTriggers.Of(PipelineTopology.Infer).Select(t => t.Name));
        Assert.Equal(["gedge-postprocess", "gedge-join", "gedge-postprocess-warmup"], GEdgeTriggers.Of(PipelineTopology.Postprocess).Select(t => t.Name));
    }

    [Fact]
    public void AWarmUp_GoesToTheStageItNames_AndNowhereElse()
    {
        foreach (var stage in PipelineTopology.Stages.Skip(1))
        {
            var warmup = GEdgeEvents.CreateStageWarmup(42, stage, s_source);

            Assert.Equal([$"gedge-{stage.Name}-warmup"], GEdgeTriggers.All.Where(t => t.Filter.Matches(warmup)).Select(t => t.Name));
            Assert.Equal(new StageWarmup(42, stage.Name), GEdgeEvents.ReadStageWarmup(warmup));
            Assert.Equal("job-42-warmup-" + stage.Name, warmup.Id);
        }

        // The first stage has no stage before it to warm it.
        var first = GEdgeEvents.CreateStageWarmup(42, PipelineTopology.First, s_source);
        Assert.DoesNotContain(GEdgeTriggers.All, t => t.Filter.Matches(first));
        var forged = GEdgeEvents.CreateStageWarmup(42, PipelineTopology.Infer, s_source);
        forged[GEdgeEvents.StageAttribute] = "postprocess";
        Assert.Throws<InvalidEventException>(() => GEdgeEvents.ReadStageWarmup(forged));
    }

    [Fact]
    public void UploadEvents_GoToTheGatewaysIntake()
    {
        var cloudEvent = GEdgeEvents.CreateVideoUploaded(new VideoUploaded("alice", "uploads", "alice/a.mp4", "e", 1), s_source);

        // The gateway app's cluster-local events Service, not its public one.
        Assert.Equal(["gateway-events"], GEdgeTriggers.All.Where(t => t.Filter.Matches(cloudEvent)).Select(t => t.Subscriber));
    }

    [Fact]
    public void Filter_WhenAnAttributeIsMissing_DoesNotMatch()
    {
        var cloudEvent = GEdgeEvents.CreateJobStatusChanged(1, JobStatus.Enqueue, 0, s_source);
        cloudEvent[GEdgeEvents.JobStatusAttribute] = null;

        Assert.False(GEdgeTriggers.Cut.Filter.Matches(cloudEvent));
    }
}
