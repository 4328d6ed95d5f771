using GEdge.Contracts;
using GEdge.JobTable;

namespace GEdge.Events.Tests;

public sealed class TriggerTests
{
    private static readonly Uri s_source = new("/gedge/test", UriKind.Relative);

    public static TheoryData<JobStatus, string?> StatusRoutes => new()
    {
        { JobStatus.Enqueue, "preprocess" },
        { JobStatus.Preprocessing_complete, "infer" },
        { JobStatus.Inferencing_complete, "postprocess" },
        { JobStatus.Preprocessing, null },
        { JobStatus.Postprocessing_complete, null },
        { JobStatus.Exit, null },
    };

    [Theory]
    [MemberData(nameof(StatusRoutes))]
    public void StatusEvents_MatchExactlyTheTriggerOfTheStageThatConsumesThem(JobStatus status, string? subscriber)
    {
        var cloudEvent = GEdgeEvents.CreateJobStatusChanged(1, status, 0, s_source);

        var matched = GEdgeTriggers.All.Where(t => t.Filter.Matches(cloudEvent)).Select(t => t.Subscriber).ToList();

        Assert.Equal(subscriber is null ? [] : [subscriber], matched);
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

        Assert.False(GEdgeTriggers.Preprocess.Filter.Matches(cloudEvent));
    }
}
