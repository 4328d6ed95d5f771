using System.Globalization;
using System.Text;
using GEdge.Contracts;
using GEdge.Stages;

namespace GEdge.Cli;

/// <summary>
/// Shows where a job is on stderr, over its segments: for each stage that has begun, the segments it has done of the
/// job's, and the frames it has done. Segments move through the stages on their own, so every stage can be at work at
/// once; the line says how far each has got. On a terminal it redraws one line; otherwise (a log, CI) it prints a line
/// whenever a stage finishes a segment, and every few seconds between.
/// </summary>
/// <remarks>
/// Once <see cref="Finish"/> is called the job is over for the reader, and a late report from a stage still winding
/// down (Ctrl+C) prints nothing.
/// </remarks>
internal sealed class ConsoleProgress(TextWriter? output = null, bool? interactive = null, TimeProvider? time = null) : IStageProgressSink
{
    private readonly Lock _lock = new();
    private readonly TextWriter _output = output ?? Console.Error;
    private readonly bool _interactive = interactive ?? !Console.IsErrorRedirected;
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    // Per stage (its working status), per segment: frames done and the segment's total.
    private readonly SortedDictionary<JobStatus, Dictionary<int, (int Done, int Total)>> _stages = [];
    private long _jobId;
    private int _segments;
    private long _lastPrinted = long.MinValue;
    private bool _printed;
    private bool _finished;

    public void Report(StageProgress progress)
    {
        lock (_lock)
        {
            if (_finished)
            {
                return;
            }

            if (progress.JobId != _jobId)
            {
                _stages.Clear();
                _jobId = progress.JobId;
            }

            _segments = Math.Max(_segments, progress.Segments);
            if (!_stages.TryGetValue(progress.Stage, out var segments))
            {
                _stages[progress.Stage] = segments = [];
            }

            var wasDone = segments.TryGetValue(progress.Segment, out var before) && before.Done >= before.Total;
            segments[progress.Segment] = (progress.FramesDone, progress.FramesTotal);
            var segmentDone = !wasDone && progress.FramesDone >= progress.FramesTotal;

            var now = _time.GetTimestamp();
            var interval = TimeSpan.FromMilliseconds(_interactive ? 100 : 3000);
            if (!segmentDone && _lastPrinted != long.MinValue && _time.GetElapsedTime(_lastPrinted, now) < interval)
            {
                return;
            }

            _lastPrinted = now;
            var line = Line();
            if (_interactive)
            {
                _output.Write($"\r{line}");
            }
            else
            {
                _output.WriteLine(line);
            }

            _printed = true;
        }
    }

    /// <summary>Ends the redrawn line, so what follows starts on its own; later reports print nothing.</summary>
    public void Finish()
    {
        lock (_lock)
        {
            if (_interactive && _printed)
            {
                _output.WriteLine();
            }

            _finished = true;
        }
    }

    // "job 3  Preprocessing 4/6 segments, 1200 frames  Inferencing 2/6, 600 frames"
    private string Line()
    {
        var line = new StringBuilder().Append(CultureInfo.InvariantCulture, $"job {_jobId}");
        var first = true;
        foreach (var (stage, segments) in _stages)
        {
            var done = segments.Values.Count(s => s.Done >= s.Total);
            var frames = segments.Values.Sum(s => s.Done);
            var of = _segments > 0 ? _segments.ToString(CultureInfo.InvariantCulture) : "?";
            line.Append(CultureInfo.InvariantCulture, $"  {stage} {done}/{of}{(first ? " segments" : string.Empty)}, {frames} frames");
            first = false;
        }

        return line.ToString();
    }
}
