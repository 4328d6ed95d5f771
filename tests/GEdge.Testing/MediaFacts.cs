using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Xunit;

namespace GEdge.Testing;

/// <summary>What ffprobe says of a file, counted frame by frame (the real ffprobe binary).</summary>
public sealed record MediaFacts(int Width, int Height, string FrameRate, int Frames, string? AudioCodec)
{
    /// <summary>Runs ffprobe on <paramref name="path"/>, counting its frames; fails the test if ffprobe does.</summary>
    public static async Task<MediaFacts> ProbeAsync(string path)
    {
        var start = new ProcessStartInfo("ffprobe")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "-v", "error", "-count_frames", "-show_streams", "-of", "json", path })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("ffprobe did not start: is it installed?");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"ffprobe failed on {path}: {await process.StandardError.ReadToEndAsync()}");
        using var document = JsonDocument.Parse(output);
        JsonElement? video = null;
        string? audioCodec = null;
        foreach (var stream in document.RootElement.GetProperty("streams").EnumerateArray())
        {
            var type = stream.GetProperty("codec_type").GetString();
            if (type == "video" && video is null)
            {
                video = stream.Clone();
            }
            else if (type == "audio")
            {
                audioCodec ??= stream.GetProperty("codec_name").GetString();
            }
        }

        var v = video ?? throw new InvalidOperationException($"{path} has no video stream.");
        return new MediaFacts(
            v.GetProperty("width").GetInt32(),
            v.GetProperty("height").GetInt32(),
            v.GetProperty("r_frame_rate").GetString()!,
            int.Parse(v.GetProperty("nb_read_frames").GetString()!, CultureInfo.InvariantCulture),
            audioCodec);
    }
}
