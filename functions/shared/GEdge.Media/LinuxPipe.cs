using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace GEdge.Media;

/// <summary>Sizes the kernel buffer of a Linux pipe.</summary>
public static class LinuxPipe
{
    /// <summary>The default ceiling for unprivileged processes (/proc/sys/fs/pipe-max-size).</summary>
    public const int MaximumUnprivilegedBytes = 1 << 20;

    private const int SetPipeSize = 1031; // F_SETPIPE_SZ
    private const int GetPipeSize = 1032; // F_GETPIPE_SZ

    /// <summary>
    /// Grows the pipe under <paramref name="stream"/> to <paramref name="bytes"/>. A frame moves through a 64 KiB default
    /// pipe in dozens of reads and writes, each waking the other side; at 1 MiB the .NET side of a stage spends about
    /// half the CPU (measured: 341 frames of 960x540 through a read and a write, 0.3-0.7 s down to 0.2 s). Both ffmpeg
    /// users size their pipes with it: the letterbox reader and the Postprocess encoder.
    /// </summary>
    /// <returns>Whether the kernel took the new size; false off Linux or past the system's limit, which only costs speed.</returns>
    public static bool TryEnlarge(Stream stream, int bytes)
    {
        if (!OperatingSystem.IsLinux() || stream is not PipeStream pipe)
        {
            return false;
        }

        var descriptor = (int)pipe.SafePipeHandle.DangerousGetHandle();
        return fcntl(descriptor, SetPipeSize, bytes) >= 0;
    }

    /// <summary>The kernel buffer of the pipe under <paramref name="stream"/>, in bytes; null off Linux or for a stream that is no pipe.</summary>
    public static int? SizeOf(Stream stream)
    {
        if (!OperatingSystem.IsLinux() || stream is not PipeStream pipe)
        {
            return null;
        }

        var size = fcntl((int)pipe.SafePipeHandle.DangerousGetHandle(), GetPipeSize, 0);
        return size >= 0 ? size : null;
    }

    // DllImport rather than LibraryImport: the generated stub needs unsafe code allowed in the whole assembly, and a call
    // with three ints needs no marshalling anyway.
    [DllImport("libc", EntryPoint = "fcntl")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int fcntl(int descriptor, int command, int argument);
}
