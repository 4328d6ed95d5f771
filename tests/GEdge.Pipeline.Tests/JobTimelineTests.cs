using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;

namespace GEdge.Pipeline.Tests;

/// <summary>A job's timeline, read from the histories the job table keeps: each stage's attempts, waits and retries.</summary>
public sealed class JobTimelineTests
{
    private static readonly DateTimeOffset s_created = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ASegmentThatFailedInferOnce_ShowsBothAttempts_TheWaitBeforeEach_AndTheRetryInTheBreakdown()
    {
        // Two segments; segment 1's first Infer attempt fails and goes back to wait for Infer.
        List<SegmentTransition> segments =
        [
            At(0, JobStatus.Enqueue, 1.0), At(1, JobStatus.Enqueue, 1.0),
            At(0, JobStatus.Preprocessing, 1.1, "pre/1"), At(1, JobStatus.Preprocessing, 1.2, "pre/2"),
            At(0, JobStatus.Preprocessing_complete, 2.0, "pre/1"), At(1, JobStatus.Preprocessing_complete, 2.5, "pre/2"),
            At(0, JobStatus.Inferencing, 2.1, "inf/1"), At(0, JobStatus.Inferencing_complete, 3.0, "inf/1"),
            At(1, JobStatus.Inferencing, 3.0, "inf/1"), At(1, JobStatus.Preprocessing_complete, 3.5, "inf/1"),
            At(1, JobStatus.Inferencing, 4.5, "inf/1"), At(1, JobStatus.Inferencing_complete, 5.5, "inf/1"),
            At(0, JobStatus.Postprocessing, 3.2, "post/1"), At(0, JobStatus.Postprocessing_complete, 4.2, "post/1"),
            At(1, JobStatus.Postprocessing, 5.6, "post/1"), At(1, JobStatus.Postprocessing_complete, 6.6, "post/1"),
        ];
        List<JobTransition> history =
        [
            new(JobStatus.Enqueue, s_created), new(JobStatus.Preprocessing, Time(0.2)), new(JobStatus.Preprocessing_complete, Time(2.5)),
            new(JobStatus.Inferencing, Time(3.0)), new(JobStatus.Inferencing_complete, Time(5.5)), new(JobStatus.Postprocessing, Time(5.6)),
            new(JobStatus.Postprocessing_complete, Time(6.6)), new(JobStatus.Exit, Time(7.0)),
        ];

        var timeline = JobTimeline.Of(Job(JobStatus.Exit, ended: 7.0), history, segments);

        Assert.Equal([new JobStep(JobTimeline.Cut, Time(0.2), Time(1.0)), new JobStep(JobTimeline.Join, Time(6.6), Time(7.0))], timeline.Steps);
        var infer = timeline.Attempts.Where(a => a.Segment == 1 && a.Stage == "infer").ToList();
        Assert.Equal(
            [
                new StageAttempt(1, "infer", Time(2.5), Time(3.0), Time(3.5), AttemptOutcome.Failed, "inf/1"),
                new StageAttempt(1, "infer", Time(3.5), Time(4.5), Time(5.5), AttemptOutcome.Done, "inf/1"),
            ],
            infer);
        Assert.Equal(7, timeline.Attempts.Count);
        Assert.All(timeline.Attempts.Except(infer.Take(1)), a => Assert.Equal(AttemptOutcome.Done, a.Outcome));

        var stages = timeline.Stages.ToDictionary(s => s.Stage);
        Assert.Equal(["preprocess", "infer", "postprocess"], timeline.Stages.Select(s => s.Stage));
        Assert.Equal((2, 3, 1), (stages["infer"].Segments, stages["infer"].Attempts, stages["infer"].Retries));
        // Worked: 0.9 (segment 0), 0.5 (the failed attempt), 1.0 (the retry); waited: 0.1, 0.5, 1.0.
        Assert.Equal(2.4, stages["infer"].WorkSeconds, 6);
        Assert.Equal(1.0, stages["infer"].LongestWorkSeconds, 6);
        Assert.Equal(1.6, stages["infer"].WaitSeconds, 6);
        Assert.Equal((Time(2.1), Time(5.5)), (stages["infer"].FirstStart, stages["infer"].LastEnd));
        Assert.Equal((2, 2, 0), (stages["postprocess"].Segments, stages["postprocess"].Attempts, stages["postprocess"].Retries));
    }

    [Fact]
    public void AJobThatEndedUnderItsSegments_StopsWhatWaitedAndWhatRan_AtItsEnd()
    {
        List<SegmentTransition> segments =
        [
            At(0, JobStatus.Enqueue, 1.0), At(1, JobStatus.Enqueue, 1.0),
            At(0, JobStatus.Preprocessing, 1.1, "pre/1"),
        ];
        List<JobTransition> history = [new(JobStatus.Enqueue, s_created), new(JobStatus.Preprocessing, Time(0.2)), new(JobStatus.Exit, Time(2.0))];

        var timeline = JobTimeline.Of(Job(JobStatus.Exit, ended: 2.0), history, segments);

        Assert.Equal(
            [
                new StageAttempt(0, "preprocess", Time(1.0), Time(1.1), Time(2.0), AttemptOutcome.Stopped, "pre/1"),
                new StageAttempt(1, "preprocess", Time(1.0), null, Time(2.0), AttemptOutcome.Stopped, null),
            ],
            timeline.Attempts);
        Assert.Equal([new JobStep(JobTimeline.Cut, Time(0.2), Time(1.0))], timeline.Steps);
        Assert.All(timeline.Stages, s => Assert.Equal(0, s.Segments));
    }

    [Fact]
    public void AJobStillBeingCut_HasAnOpenCut_AndNoAttempts()
    {
        var timeline = JobTimeline.Of(Job(JobStatus.Preprocessing, ended: null), [new(JobStatus.Enqueue, s_created), new(JobStatus.Preprocessing, Time(0.2))], []);

        Assert.Equal([new JobStep(JobTimeline.Cut, Time(0.2), null)], timeline.Steps);
        Assert.Empty(timeline.Attempts);
        Assert.Null(timeline.Ended);
    }

    private static DateTimeOffset Time(double seconds) => s_created.AddSeconds(seconds);

    private static SegmentTransition At(int segment, JobStatus status, double seconds, string? worker = null) => new(segment, status, Time(seconds), worker);

    private static Job Job(JobStatus status, double? ended) => new()
    {
        Id = 1,
        User = "alice",
        Path = "uploads/alice/clip.mp4",
        Type = "mp4",
        Status = status,
        CreatedTime = s_created,
        EndTime = ended is { } seconds ? Time(seconds) : null,
    };
}
