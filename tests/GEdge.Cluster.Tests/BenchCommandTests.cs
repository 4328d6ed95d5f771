using System.Globalization;
using System.Text.RegularExpressions;

namespace GEdge.Cluster.Tests;

/// <summary>
/// <c>gedge bench</c> run as a user runs it, on the short sample and one round, with one <c>gedge serve</c> run: every
/// figure it promises is printed (the frame boundary's against raw frames too), each ratio is its two figures' quotient, and the serve row's longest request fits in its
/// job. No timing is asserted: only that the report is whole and consistent.
/// </summary>
[Collection(OneClusterAtATime.Name)]
public sealed partial class BenchCommandTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("gedge-bench-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Bench_ReportsEachStageBesideItsLimit_TheWholeJob_TheLongestRequest_AndTheJobOnServe()
    {
        var (exitCode, output, error) = await ClusterFixture.RunGedgeAsync(["bench", TestClips.Road, "--rounds", "1", "--serve", "1"], _folder);

        Assert.True(exitCode == 0, $"{output}\n{error}");
        Assert.Matches(@"^road\.mp4: 1280x720, 25/1 fps, ~\d+ frames; model \S+; \d+ cores; best of 1 rounds$", output.Split('\n')[0].Trim());
        foreach (var stage in new[] { "Preprocess", "Infer", "Postprocess" })
        {
            var row = StageRow().Match(output.Split('\n').Single(line => line.StartsWith(stage + " ", StringComparison.Ordinal)));
            Assert.True(row.Success, $"no figures on the {stage} row:\n{output}");
            var (project, limit, ratio) = (Number(row, "project"), Number(row, "limit"), Number(row, "ratio"));
            Assert.True(project > 0 && limit > 0, output);
            Assert.Equal(Math.Round(project / limit, 2), ratio, 0.011);
        }

        var whole = WholeJob().Match(output);
        Assert.True(whole.Success, output);
        // Each figure is printed to 0.01 s: on the short sample the sum of limits is about a second, where that rounding
        // alone moves the quotient by more than 0.01 (CI printed 2.27 where the printed figures give 2.25).
        var (seconds, sum) = (Number(whole, "seconds"), Number(whole, "sum"));
        var slack = (0.005 / sum) + (0.005 * seconds / (sum * sum)) + 0.0051;
        Assert.InRange(Number(whole, "ratio"), (seconds / sum) - slack, (seconds / sum) + slack);
        var first = FirstResult().Match(output);
        Assert.True(first.Success, output);
        Assert.InRange(Number(first, "seconds"), 0.001, Number(whole, "seconds"));
        var longest = Longest().Match(output);
        Assert.True(longest.Success, output);
        Assert.InRange(Number(longest, "seconds"), 0.001, Number(whole, "seconds"));

        // The frame boundary: the compact form beside raw frames, each ratio its figures' quotient.
        Assert.Contains("frame boundary (Preprocess to Infer): H264 against raw frames", output, StringComparison.Ordinal);
        foreach (var (label, decimals) in new[] { ("bytes/frame", 3), ("Preprocess", 2), ("Infer", 2), ("whole job", 2) })
        {
            var row = BoundaryRow().Match(output.Split('\n').Single(line => line.StartsWith($"  {label} ", StringComparison.Ordinal)));
            Assert.True(row.Success, $"no figures on the boundary's {label} row:\n{output}");
            var (compact, raw, ratio) = (Number(row, "compact"), Number(row, "raw"), Number(row, "ratio"));
            Assert.True(compact > 0 && raw > 0, output);
            Assert.Equal(Math.Round(compact / raw, decimals), ratio, Math.Pow(10, -decimals) * 1.1);
        }

        Assert.Contains("gedge serve: processes per CPU stage", output, StringComparison.Ordinal);
        var served = ServeRow().Match(output);
        Assert.True(served.Success, output);
        Assert.InRange(Number(served, "longest"), 0.001, Number(served, "seconds"));
        Assert.Equal(Math.Round(Number(served, "seconds") / Number(whole, "seconds"), 2), Number(served, "ratio"), 0.011);
        Assert.Matches("(all goals met|some goals not met)\n?$", output.TrimEnd());
    }

    [Fact]
    public async Task BenchStartup_ReportsTheRunsParts_ItsFixedCostBesideTheFramesOwnWork_TheUsedFolder_AndEachFunctionsReadinessInParts()
    {
        var (exitCode, output, error) = await ClusterFixture.RunGedgeAsync(["bench", TestClips.Road, "--startup", "--rounds", "1"], _folder);

        Assert.True(exitCode == 0, $"{output}\n{error}");
        Assert.Matches(@"^start-up: gedge run on the first 5 frames of road\.mp4, median of 3 runs each; \d+ cores$", output.Split('\n')[0].Trim());
        var lines = output.Split('\n').Select(line => line.TrimEnd()).ToList();
        foreach (var part in new[] { "runtime", "job table server", "job table connection", "model session", "job", "ffprobe", "inference", "shutdown" })
        {
            Assert.True(lines.Any(line => Regex.IsMatch(line, $@"^{part}\s+\d+\s+\d+$")), $"no figures for the {part} part:\n{output}");
        }

        var wall = Number(Regex.Match(output, @"(?m)^wall, process start to exit\s+(?<ms>\d+)$"), "ms");
        var ffmpeg = Number(Regex.Match(output, @"ffmpeg alone, decode and encode with the annotated video's settings\s+(?<ms>\d+) ms"), "ms");
        var inference = Number(Regex.Match(output, @"bare InferenceSession\.Run over the 5 frames\s+(?<ms>\d+) ms"), "ms");
        var fixedCost = FixedCost().Match(output);
        Assert.True(fixedCost.Success, output);
        // The fixed cost is the wall time less the frames' own work, each printed rounded to the millisecond.
        Assert.Equal(wall, Number(fixedCost, "wall"));
        Assert.InRange(Number(fixedCost, "own"), ffmpeg + inference - 1, ffmpeg + inference + 1);
        Assert.InRange(Number(fixedCost, "fixed"), wall - Number(fixedCost, "own") - 1, wall - Number(fixedCost, "own") + 1);
        // The data folders: empty, one earlier job, a thousand; the last against the one as their walls' quotient.
        string[] folderNames = ["empty", "one earlier job", "1000 earlier jobs"];
        var folders = folderNames
            .Select(folder => Regex.Match(output, $@"(?m)^{folder}\s+(?<wall>\d+)\s+(?<server>\d+)\s+(?<peak>\d+)$"))
            .ToList();
        Assert.All(folders, row => Assert.True(row.Success, output));
        Assert.Equal(wall, Number(folders[0], "wall"));
        var used = UsedFolder().Match(output);
        Assert.True(used.Success, output);
        var quotient = Number(folders[2], "wall") / Number(folders[1], "wall");
        Assert.InRange(Number(used, "ratio"), quotient - 0.011, quotient + 0.011);
        // And each folder against the empty one, run by run: a median inside its interval, the verdict the interval's.
        foreach (var folder in folderNames.Skip(1))
        {
            var more = Regex.Match(output, $@"(?m)^  {folder}\s+(?<median>-?\d+) \[(?<low>-?\d+), (?<high>-?\d+)\]: (?<verdict>slower|not measurably slower)$");
            Assert.True(more.Success, $"no paired difference for {folder}:\n{output}");
            Assert.InRange(Number(more, "median"), Number(more, "low"), Number(more, "high"));
            if (Number(more, "low") != 0)
                Assert.Equal(Number(more, "low") > 0 ? "slower" : "not measurably slower", more.Groups["verdict"].Value);
        }
        // The functions' table: a column each, every one ready and started in parts; only Infer loads a model session.
        var header = lines.FindIndex(line => line.StartsWith("gedge function NAME: ", StringComparison.Ordinal)) + 1;
        Assert.True(header > 0, output);
        Assert.Equal(["gateway", "preprocess", "infer", "postprocess"], lines[header].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"^ready(\s+[1-9]\d*){4}$", lines[header + 1]);
        foreach (var part in new[] { "runtime", "host build", "host start", "readiness check", "job table connection" })
        {
            Assert.True(lines.Any(line => Regex.IsMatch(line, $@"^{part}(\s+\d+){{4}}$")), $"no figures for every function's {part}:\n{output}");
        }

        Assert.Contains(lines, line => Regex.IsMatch(line, @"^model session\s+-\s+-\s+\d+\s+-$"));

        Assert.Matches("(all start-up goals met|some start-up goals not met)$", output.TrimEnd());
    }

    [Fact]
    public async Task BenchScaleToZero_ReportsTheFirstSegmentsWaitForInfer_WithAndWithoutWarmups_BesideItsColdStartInParts_AndTheWayBackToZero()
    {
        var (exitCode, output, error) = await ClusterFixture.RunGedgeAsync(["bench", TestClips.Road, "--scale-to-zero", "--cold-starts", "2"], _folder);

        Assert.True(exitCode == 0, $"{output}\n{error}");
        Assert.Matches(@"^scale to zero: road\.mp4 on gedge serve --scale-to-zero \(idle window 3 s\), stage warm-ups on and off; \d+ cores$", output.Split('\n')[0].Trim());
        double[] Row(string name)
        {
            var row = Regex.Match(output, $@"(?m)^{Regex.Escape(name)}\s+(?<on>[\d.]+)( %)?\s+(?<off>[\d.]+)");
            Assert.True(row.Success, $"no row '{name}':\n{output}");
            return [Number(row, "on"), Number(row, "off")];
        }

        var wait = Row("first segment waited for Infer");
        var forReady = Row("  of which for Infer to be ready");
        var forCore = Row("  of which for a core (Infer ready)");
        var coldStart = Row("Infer's cold start (start to ready)");
        for (var i = 0; i < 2; i++)
        {
            Assert.InRange(forReady[i] + forCore[i], wait[i] - 0.011, wait[i] + 0.011);
            Assert.InRange(coldStart[i], 0.01, 120);
        }

        // Whatever the timing, each cluster went back to no stage process, and Infer started twice on each.
        Assert.Equal([0.0, 0.0], Row("stage processes after the idle window"));
        Assert.All(Row("second job's Infer cold start (from zero)"), seconds => Assert.InRange(seconds, 0.01, 120));
        Assert.All(Row("stage processes' peak memory"), mib => Assert.InRange(mib, 10, 100_000));
        var lines = output.Split('\n').Select(line => line.TrimEnd()).ToList();
        foreach (var part in new[] { "runtime", "host build", "model session", "first inference", "readiness check" })
        {
            Assert.True(lines.Any(line => Regex.IsMatch(line, $@"^  {part}\s+\d+\s+\d+$")), $"no figures for the {part} of both cold starts:\n{output}");
        }

        // On an idle node, in two pairs: Infer's cold start without and with the session cache, what the cache saved with
        // its interval (the interval holds the median), each part of it, and the verdict.
        Assert.Contains("(a warm-up alone starts it; 2 pairs, alternating)", output, StringComparison.Ordinal);
        var quiet = lines.Select(line => Regex.Match(line, @"^  (?<part>[a-z ()]+?)\s+(?<without>\d+)\s+(?<with>\d+)\s+(?<saved>-?\d+) \[(?<low>-?\d+), (?<high>-?\d+)\]$")).Where(m => m.Success).ToList();
        Assert.Equal(["start to ready", "start to ready (own clock)", "runtime", "host build", "model session", "first inference", "job table connection", "host start", "readiness check"], quiet.Select(m => m.Groups["part"].Value));
        Assert.All(quiet, m => Assert.InRange(Number(m, "saved"), Number(m, "low"), Number(m, "high")));
        Assert.InRange(Number(quiet[0], "without"), 1, 120_000);
        // Up to the probe's answer less the wait for the probe (a few ms either way: the two clocks start apart).
        Assert.InRange(Number(quiet[1], "without"), 1, Number(quiet[0], "without") + 20);
        Assert.Matches(@"(?m)^with the session cache Infer's cold start is (measurably faster: -?\d+ ms \[-?\d+, -?\d+\] less|not measurably faster: -?\d+ ms \[-?\d+, -?\d+\], within the noise)$", output);
        Assert.Matches("goal (not )?met$", output.TrimEnd());
    }

    [Fact]
    public async Task Bench_RefusesACountOfProcessesOutOfRange()
    {
        var (exitCode, _, error) = await ClusterFixture.RunGedgeAsync(["bench", TestClips.Road, "--serve", "1,0"], _folder);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("--serve takes counts of processes from 1 to 16", error, StringComparison.Ordinal);
    }

    private static double Number(Match match, string group) => double.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\S+\s+(?<project>[\d.]+) f/s\s+(?<limit>[\d.]+) f/s\s+(?<ratio>[\d.]+)\s+[\d.]+\s+\S")]
    private static partial Regex StageRow();

    [GeneratedRegex(@"^  [a-zA-Z/ ]+?\s+(?<compact>[\d.]+) (B|f/s|s)\s+(?<raw>[\d.]+) (B|f/s|s)\s+(?<ratio>[\d.]+)")]
    private static partial Regex BoundaryRow();

    [GeneratedRegex(@"whole job\s+(?<seconds>[\d.]+) s\s+sum of limits (?<sum>[\d.]+) s; goal: within 1\.1 x sum = [\d.]+ s \((?<ratio>[\d.]+) x the sum\)")]
    private static partial Regex WholeJob();

    [GeneratedRegex(@"first result\s+(?<seconds>[\d.]+) s\s+from upload to the first of 1 segments postprocessed")]
    private static partial Regex FirstResult();

    [GeneratedRegex(@"longest request\s+(?<seconds>[\d.]+) s")]
    private static partial Regex Longest();

    [GeneratedRegex(@"(?m)^1\s+(?<seconds>[\d.]+) s\s+(?<ratio>[\d.]+)\s+(?<longest>[\d.]+) s\s*$")]
    private static partial Regex ServeRow();

    [GeneratedRegex(@"fixed cost: (?<wall>\d+) - (?<own>\d+) = (?<fixed>-?\d+) ms; goal at most 1000 ms: (met|not met)")]
    private static partial Regex FixedCost();

    [GeneratedRegex(@"1000 earlier jobs against one: (?<ratio>[\d.]+) x the wall time \(goal: no slower\)")]
    private static partial Regex UsedFolder();
}
