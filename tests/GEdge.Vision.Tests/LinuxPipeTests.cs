using System.Diagnostics;
using GEdge.Media;

namespace GEdge.Vision.Tests;

public sealed class LinuxPipeTests
{
    [Fact]
    public void TryEnlarge_AProcessPipe_TakesTheUnprivilegedMaximum()
    {
        using var process = Process.Start(new ProcessStartInfo("ffmpeg", "-hide_banner -version") { RedirectStandardOutput = true })!;

        Assert.True(LinuxPipe.TryEnlarge(process.StandardOutput.BaseStream, LinuxPipe.MaximumUnprivilegedBytes));

        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
    }

    [Fact]
    public void TryEnlarge_AStreamThatIsNotAPipe_ChangesNothing()
    {
        using var memory = new MemoryStream();

        Assert.False(LinuxPipe.TryEnlarge(memory, LinuxPipe.MaximumUnprivilegedBytes));
    }
}
