using GEdge.Artifacts;

namespace GEdge.Postprocess;

/// <summary>Per-class counts for <c>summary.json</c>, gathered frame by frame: detections, frames present, peak in one frame.</summary>
public sealed class DetectionTally
{
    private readonly Dictionary<int, ClassCount> _classes = [];
    private readonly Dictionary<int, int> _inFrame = [];

    /// <summary>Frames counted so far.</summary>
    public int Frames { get; private set; }

    /// <summary>Counts one frame's detections.</summary>
    public void Add(FrameDetections frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        Frames++;
        _inFrame.Clear();
        foreach (var detection in frame.Detections)
        {
            _inFrame[detection.ClassId] = _inFrame.GetValueOrDefault(detection.ClassId) + 1;
            var entry = _classes.GetValueOrDefault(detection.ClassId, new ClassCount(detection.Label, 0, 0, 0));
            _classes[detection.ClassId] = entry with { Detections = entry.Detections + 1 };
        }

        foreach (var (classId, count) in _inFrame)
        {
            var entry = _classes[classId];
            _classes[classId] = entry with { Frames = entry.Frames + 1, Peak = Math.Max(entry.Peak, count) };
        }
    }

    /// <summary>The per-class summary, most detections first, then by class id.</summary>
    public IReadOnlyList<ClassSummary> Classes()
    {
        var classes = new List<ClassSummary>(_classes.Count);
        foreach (var (classId, entry) in _classes)
        {
            classes.Add(new ClassSummary(entry.Label, classId, entry.Detections, entry.Frames, entry.Peak));
        }

        classes.Sort((a, b) => a.Detections != b.Detections ? b.Detections.CompareTo(a.Detections) : a.ClassId.CompareTo(b.ClassId));
        return classes;
    }

    private readonly record struct ClassCount(string Label, int Detections, int Frames, int Peak);
}
