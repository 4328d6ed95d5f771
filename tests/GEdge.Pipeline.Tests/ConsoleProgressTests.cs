using GEdge.Cli;
using GEdge.Contracts;
using GEdge.Stages;
using Microsoft.Extensions.Time.Testing;

namespace GEdge.Pipeline.Tests;

/// <summary>What <c>gedge run</c> prints as a job's segments move, on a clock the test turns.</summary>
public sealed class ConsoleProgressTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly StringWriter _output = new();

    public void Dispose() => _output.Dispose();

    [Fact]
    public void EachStage_ShowsTheSegmentsItHasDoneOfTheJobs_AndItsFrames_AStageFinishingASegmentPrintsAtOnce()
    {
        var progress = new ConsoleProgress(_output, interactive: false, _time);

        progress.Report(Frames(JobStatus.Preprocessing, segment: 0, done: 10, total: 250));
        progress.Report(Frames(JobStatus.Preprocessing, segment: 0, done: 120, total: 250));
        progress.Report(Frames(JobStatus.Preprocessing, segment: 0, done: 250, total: 250));
        progress.Report(Frames(JobStatus.Inferencing, segment: 0, done: 32, total: 250));
        progress.Report(Frames(JobStatus.Preprocessing, segment: 1, done: 100, total: 250));
        _time.Advance(TimeSpan.FromSeconds(4));
        progress.Report(Frames(JobStatus.Inferencing, segment: 0, done: 64, total: 250));

        Assert.Equal(
            [
                "job 1  Preprocessing 0/3 segments, 10 frames",
                "job 1  Preprocessing 1/3 segments, 250 frames",
                "job 1  Preprocessing 1/3 segments, 350 frames  Inferencing 0/3, 64 frames",
            ],
            Lines());
    }

    [Fact]
    public void AReportAfterTheRunFinished_PrintsNothing()
    {
        var progress = new ConsoleProgress(_output, interactive: false, _time);
        progress.Report(Frames(JobStatus.Inferencing, segment: 0, done: 1, total: 7161));
        _time.Advance(TimeSpan.FromSeconds(5));

        progress.Finish();
        progress.Report(Frames(JobStatus.Inferencing, segment: 0, done: 486, total: 7161));

        Assert.Equal(["job 1  Inferencing 0/3 segments, 1 frames"], Lines());
    }

    private static StageProgress Frames(JobStatus stage, int segment, int done, int total) =>
        new(1, stage, done, total) { Segment = segment, Segments = 3 };

    private string[] Lines() => _output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
}
