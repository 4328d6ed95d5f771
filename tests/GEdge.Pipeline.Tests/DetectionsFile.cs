using System.Text.Json;

namespace GEdge.Pipeline.Tests;

/// <summary>A job's <c>detections.json</c> and <c>summary.json</c>, read back from a results folder for comparison.</summary>
internal static class DetectionsFile
{
    public static List<Frame> FramesOf(string output)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "detections.json")));
        return [.. document.RootElement.GetProperty("frames").EnumerateArray().Select(frame => new Frame(
            frame.GetProperty("index").GetInt32(),
            Math.Round(frame.GetProperty("time").GetDouble(), 6),
            [.. frame.GetProperty("detections").EnumerateArray().Select(d =>
            {
                var box = d.GetProperty("box");
                return new Box(d.GetProperty("label").GetString()!, Math.Round(d.GetProperty("score").GetDouble(), 4),
                    box.GetProperty("x").GetDouble(), box.GetProperty("y").GetDouble(), box.GetProperty("width").GetDouble(), box.GetProperty("height").GetDouble());
            })]))];
    }

    public static string Classes(string output)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "summary.json")));
        return document.RootElement.GetProperty("classes").GetRawText();
    }

    public static double IoU(Box a, Box b)
    {
        var width = Math.Min(a.X + a.Width, b.X + b.Width) - Math.Max(a.X, b.X);
        var height = Math.Min(a.Y + a.Height, b.Y + b.Height) - Math.Max(a.Y, b.Y);
        var overlap = Math.Max(0, width) * Math.Max(0, height);
        return overlap / ((a.Width * a.Height) + (b.Width * b.Height) - overlap);
    }

    public sealed record Box(string Label, double Score, double X, double Y, double Width, double Height);

    public sealed record Frame(int Index, double Time, IReadOnlyList<Box> Boxes)
    {
        public bool Equals(Frame? other) => other is not null && Index == other.Index && Time == other.Time && Boxes.SequenceEqual(other.Boxes);

        public override int GetHashCode() => HashCode.Combine(Index, Time);
    }

    /// <summary>
    /// Boxes of <paramref name="expected"/> matched one to one by boxes of <paramref name="actual"/> of the same class
    /// overlapping at IoU 0.5 or more, best overlap first.
    /// </summary>
    public static int Matched(IReadOnlyList<Box> expected, IReadOnlyList<Box> actual)
    {
        var pairs = (from e in Enumerable.Range(0, expected.Count)
                     from a in Enumerable.Range(0, actual.Count)
                     where expected[e].Label == actual[a].Label
                     let iou = IoU(expected[e], actual[a])
                     where iou >= 0.5
                     orderby iou descending
                     select (e, a)).ToList();
        var usedExpected = new HashSet<int>();
        var usedActual = new HashSet<int>();
        foreach (var (e, a) in pairs)
        {
            if (!usedExpected.Contains(e) && !usedActual.Contains(a))
            {
                usedExpected.Add(e);
                usedActual.Add(a);
            }
        }

        return usedExpected.Count;
    }
}
