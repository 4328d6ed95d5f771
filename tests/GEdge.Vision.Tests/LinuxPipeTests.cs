using System.Diagnostics;
using GEdge.Media;

namespace GEdge.Vision.Tests;

public sealed class LinuxPipeTests
{
    [Fact]
    public void TryEnlarge_AProcessPipe_TakesTheUnprivilegedMaximum()
    {
        using var process = Process.Start(new ProcessStartInfo("ffmpeg", "-hide_banner -version") { RedirectStandardOutput = true })!;
        var before = LinuxPipe.SizeOf(process.StandardOutput.BaseStream);

        Assert.True(LinuxPipe.TryEnlarge(process.StandardOutput.BaseStream, LinuxPipe.MaximumUnprivilegedBytes));

        // Read back from the kernel: the default 64 KiB became 1 MiB.
        Assert.Equal(64 * 1024, before);
        Assert.Equal(LinuxPipe.MaximumUnprivilegedBytes, LinuxPipe.SizeOf(process.StandardOutput.BaseStream));

        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
    }

    [Fact]
    public void TryEnlarge_AStreamThatIsNotAPipe_ChangesNothing()
    {
        using var memory = new MemoryStream();

        Assert.False(LinuxPipe.TryEnlarge(memory, LinuxPipe.MaximumUnprivilegedBytes));
        Assert.Null(LinuxPipe.SizeOf(memory));
    }
}
