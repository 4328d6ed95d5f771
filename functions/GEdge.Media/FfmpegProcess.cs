using System.ComponentModel;
using System.Diagnostics;
using FFMpegCore;

namespace GEdge.Media;

/// <summary>Starts the ffmpeg binary FFMpegCore is configured with (its <c>BinaryFolder</c>, else PATH).</summary>
internal static class FfmpegProcess
{
    public static Process Start(IEnumerable<string> arguments, string path)
    {
        var binary = GlobalFFOptions.GetFFMpegBinaryPath();
        var startInfo = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        try
        {
            var process = Process.Start(startInfo) ?? throw ToolMissing(path, binary, null);
            LinuxPipe.TryEnlarge(process.StandardOutput.BaseStream, LinuxPipe.MaximumUnprivilegedBytes);
            return process;
        }
        catch (Win32Exception e)
        {
            throw ToolMissing(path, binary, e);
        }
    }

    public static MediaException ToolMissing(string path, string binary, Exception? cause) =>
        new(path, MediaErrorKind.ToolMissing,
            $"{Path.GetFileName(binary)} could not be started ({binary}): install ffmpeg (apt-get install ffmpeg) or point FFMpegCore's BinaryFolder at it.", cause);

    /// <summary>Strips ffmpeg's "[h264 @ 0x55...] " context prefix so a reason reads as a sentence.</summary>
    public static string WithoutContext(string line)
    {
        var text = line.AsSpan().Trim();
        while (text.Length > 0 && text[0] == '[')
        {
            var close = text.IndexOf(']');
            if (close < 0)
            {
                break;
            }

            text = text[(close + 1)..].TrimStart();
        }

        return text.ToString();
    }
}
