using System.Diagnostics;
using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Stages;

namespace GEdge.Cli;

/// <summary>
/// Shows where a job is on stderr: the stage, frames done of the total and frames per second. On a terminal it
/// redraws one line; otherwise (a log, CI) it prints a line per stage change and every few seconds.
/// </summary>
internal sealed class ConsoleProgress : IStageProgressSink
{
    private readonly Lock _lock = new();
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private readonly Stopwatch _sinceStageStart = new();
    private JobStatus? _stage;
    private long _lastPrinted;

    public void Report(StageProgress progress)
    {
        lock (_lock)
        {
            var now = Environment.TickCount64;
            if (_stage != progress.Stage)
            {
                if (_stage is not null && _interactive)
                {
                    Console.Error.WriteLine();
                }

                _stage = progress.Stage;
                _sinceStageStart.Restart();
                _lastPrinted = 0;
            }

            var finished = progress.FramesDone >= progress.FramesTotal;
            var interval = _interactive ? 100 : 3000;
            if (!finished && now - _lastPrinted < interval)
            {
                return;
            }

            _lastPrinted = now;
            var seconds = Math.Max(_sinceStageStart.Elapsed.TotalSeconds, 1e-3);
            var line = $"job {progress.JobId}  {progress.Stage,-15} {progress.FramesDone,6}/{progress.FramesTotal} frames  {progress.FramesDone / seconds,7:0.0} frames/s";
            if (_interactive)
            {
                Console.Error.Write($"\r{line}");
            }
            else
            {
                Console.Error.WriteLine(line);
            }
        }
    }

    /// <summary>Ends the redrawn line, so what follows starts on its own.</summary>
    public void Finish()
    {
        lock (_lock)
        {
            if (_interactive && _stage is not null)
            {
                Console.Error.WriteLine();
            }

            _stage = null;
        }
    }
}
