using GEdge.Media;

namespace GEdge.Vision.Tests;

public sealed class FfmpegProcessTests
{
    [Fact]
    public async Task Failure_CarriesTheExitCodeAndTheEndOfFfmpegsStderr()
    {
        using var folder = new TempFolder("gedge-vision-");
        var missing = folder.PathOf("missing.mp4");
        using var ffmpeg = FfmpegProcess.Start("decoder", missing, ["-hide_banner", "-nostdin", "-loglevel", "error", "-i", missing, "-f", "null", "-"]);

        var exitCode = await ffmpeg.WaitForExitAsync(CancellationToken.None);
        var failure = ffmpeg.Failure(exitCode, "annotating");

        Assert.Equal(1, exitCode);
        Assert.Equal(MediaErrorKind.ProcessFailed, failure.Kind);
        Assert.Equal(missing, failure.Path);
        Assert.Equal(("decoder", 1), (failure.Process, failure.ExitCode));
        Assert.Equal($"{missing}: No such file or directory", failure.StandardErrorTail);
        Assert.Equal($"The ffmpeg decoder exited with code 1 while annotating {missing}: {missing}: No such file or directory", failure.Message);
    }

    [Fact]
    public async Task StandardErrorTail_KeepsOnlyTheLastTwelveLines()
    {
        // At info level ffmpeg describes inputs, mapping and outputs in about twenty lines, ending with its size summary.
        using var ffmpeg = FfmpegProcess.Start("encoder", "lavfi",
            ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-f", "lavfi", "-i", "testsrc=d=0.04", "-f", "lavfi", "-i", "sine=d=0.04", "-f", "null", "-"]);

        Assert.Equal(0, await ffmpeg.WaitForExitAsync(CancellationToken.None));

        var lines = ffmpeg.StandardErrorTail.Split(Environment.NewLine);
        Assert.Equal(12, lines.Length);
        Assert.StartsWith("video:", lines[^1], StringComparison.Ordinal);
        Assert.DoesNotContain(lines, line => line.StartsWith("Input #0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StandardErrorLine_SeesEveryLineAndKeepsWhatItReturns()
    {
        var seen = new List<string>();
        using var ffmpeg = FfmpegProcess.Start("encoder", "lavfi",
            ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-f", "lavfi", "-i", "testsrc=d=0.04", "-f", "null", "-"],
            standardErrorLine: line =>
            {
                seen.Add(line);
                return line.StartsWith("Input #0", StringComparison.Ordinal) ? "first input" : null;
            });

        Assert.Equal(0, await ffmpeg.WaitForExitAsync(CancellationToken.None));

        Assert.Contains(seen, line => line.StartsWith("video:", StringComparison.Ordinal));
        Assert.Equal(["first input"], ffmpeg.StandardErrorLines);
    }

    [Theory]
    [InlineData("[h264 @ 0x55d0c8] Invalid NAL unit size", "Invalid NAL unit size")]
    [InlineData("[in#0/mov,mp4 @ 0x1] [error] moov atom not found", "moov atom not found")]
    [InlineData("  plain line  ", "plain line")]
    public void WithoutContext_StripsFfmpegsBracketedPrefixes(string line, string expected)
    {
        Assert.Equal(expected, FfmpegProcess.WithoutContext(line));
    }
}
