using GEdge.Cli;
using GEdge.Contracts;
using GEdge.Stages;
using Microsoft.Extensions.Time.Testing;

namespace GEdge.Pipeline.Tests;

/// <summary>What <c>gedge run</c> prints as a job moves, on a clock the test turns.</summary>
public sealed class ConsoleProgressTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly StringWriter _output = new();

    public void Dispose() => _output.Dispose();

    [Fact]
    public void AStagesFirstReport_ShowsNoRate_AndLaterOnesCountOnlyTheFramesDoneSinceOverTheTimeSince()
    {
        var progress = new ConsoleProgress(_output, interactive: false, _time);

        progress.Report(new StageProgress(1, JobStatus.Inferencing, 4, 100));
        _time.Advance(TimeSpan.FromSeconds(4));
        progress.Report(new StageProgress(1, JobStatus.Inferencing, 100, 100));

        Assert.Equal(
            ["job 1  Inferencing          4/100 frames", "job 1  Inferencing        100/100 frames     24.0 frames/s"],
            Lines());
    }

    [Fact]
    public void AReportAfterTheRunFinished_PrintsNothing()
    {
        var progress = new ConsoleProgress(_output, interactive: false, _time);
        progress.Report(new StageProgress(1, JobStatus.Inferencing, 1, 7161));
        _time.Advance(TimeSpan.FromSeconds(5));

        progress.Finish();
        progress.Report(new StageProgress(1, JobStatus.Inferencing, 486, 7161));

        Assert.Equal(["job 1  Inferencing          1/7161 frames"], Lines());
    }

    private string[] Lines() => _output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
}
