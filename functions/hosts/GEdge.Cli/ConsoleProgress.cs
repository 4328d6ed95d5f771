using GEdge.Contracts;
using GEdge.Stages;

namespace GEdge.Cli;

/// <summary>
/// Shows where a job is on stderr: the stage, frames done of the total and frames per second. On a terminal it
/// redraws one line; otherwise (a log, CI) it prints a line per stage change and every few seconds.
/// </summary>
/// <remarks>
/// The rate counts the frames done since the stage's first report, over the time since then: a stage's first report
/// already has frames done, and counting them over no time at all showed thousands of frames/s. Until a fifth of a
/// second has passed there is no rate to show. Once <see cref="Finish"/> is called the job is over for the reader, and a
/// late report from a stage still winding down (Ctrl+C) prints nothing.
/// </remarks>
internal sealed class ConsoleProgress(TextWriter? output = null, bool? interactive = null, TimeProvider? time = null) : IStageProgressSink
{
    private static readonly TimeSpan s_shortestRatePeriod = TimeSpan.FromSeconds(0.2);

    private readonly Lock _lock = new();
    private readonly TextWriter _output = output ?? Console.Error;
    private readonly bool _interactive = interactive ?? !Console.IsErrorRedirected;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private JobStatus? _stage;
    private long _stageStarted;
    private int _framesAtStageStart;
    private long _lastPrinted;
    private bool _finished;

    public void Report(StageProgress progress)
    {
        lock (_lock)
        {
            if (_finished)
            {
                return;
            }

            var now = _time.GetTimestamp();
            if (_stage != progress.Stage)
            {
                if (_stage is not null && _interactive)
                {
                    _output.WriteLine();
                }

                _stage = progress.Stage;
                _stageStarted = now;
                _framesAtStageStart = progress.FramesDone;
                _lastPrinted = long.MinValue;
            }

            var done = progress.FramesDone >= progress.FramesTotal;
            var interval = TimeSpan.FromMilliseconds(_interactive ? 100 : 3000);
            if (!done && _lastPrinted != long.MinValue && _time.GetElapsedTime(_lastPrinted, now) < interval)
            {
                return;
            }

            _lastPrinted = now;
            var elapsed = _time.GetElapsedTime(_stageStarted, now);
            var counted = progress.FramesDone - _framesAtStageStart;
            var rate = elapsed >= s_shortestRatePeriod && counted > 0 ? $"  {counted / elapsed.TotalSeconds,7:0.0} frames/s" : string.Empty;
            var line = $"job {progress.JobId}  {progress.Stage,-15} {progress.FramesDone,6}/{progress.FramesTotal} frames{rate}";
            if (_interactive)
            {
                _output.Write($"\r{line}");
            }
            else
            {
                _output.WriteLine(line);
            }
        }
    }

    /// <summary>Ends the redrawn line, so what follows starts on its own; later reports print nothing.</summary>
    public void Finish()
    {
        lock (_lock)
        {
            if (_interactive && _stage is not null)
            {
                _output.WriteLine();
            }

            _stage = null;
            _finished = true;
        }
    }
}
