namespace GEdge.Rendering.Tests;

public sealed class FfmpegChildTests
{
    [Fact]
    public async Task Failure_CarriesTheExitCodeAndTheEndOfFfmpegsStderr()
    {
        using var scratch = new Scratch();
        var missing = scratch.PathOf("missing.mp4");
        using var ffmpeg = FfmpegChild.Start("decoder", missing, ["-hide_banner", "-nostdin", "-loglevel", "error", "-i", missing, "-f", "null", "-"], redirectInput: false, redirectOutput: false);

        var exitCode = await ffmpeg.WaitForExitAsync(CancellationToken.None);
        var failure = ffmpeg.Failure(missing, exitCode);

        Assert.Equal(1, exitCode);
        Assert.Equal(("decoder", 1), (failure.Process, failure.ExitCode));
        Assert.Equal($"{missing}: No such file or directory", failure.StandardErrorTail);
        Assert.Equal($"The ffmpeg decoder exited with code 1 while annotating {missing}: {missing}: No such file or directory", failure.Message);
    }

    [Fact]
    public async Task StandardErrorTail_KeepsOnlyTheLastTwelveLines()
    {
        // At info level ffmpeg describes inputs, mapping and outputs in about twenty lines, ending with its size summary.
        using var ffmpeg = FfmpegChild.Start("encoder", "lavfi",
            ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-f", "lavfi", "-i", "testsrc=d=0.04", "-f", "lavfi", "-i", "sine=d=0.04", "-f", "null", "-"],
            redirectInput: false, redirectOutput: false);

        Assert.Equal(0, await ffmpeg.WaitForExitAsync(CancellationToken.None));

        var lines = ffmpeg.StandardErrorTail.Split(Environment.NewLine);
        Assert.Equal(12, lines.Length);
        Assert.StartsWith("video:", lines[^1], StringComparison.Ordinal);
        Assert.DoesNotContain(lines, line => line.StartsWith("Input #0", StringComparison.Ordinal));
    }
}
