using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Xunit;

namespace GEdge.Testing;

/// <summary>The real ffmpeg and ffprobe, as the tests' independent witnesses; a missing binary fails the test with the fix.</summary>
public static class MediaTools
{
    /// <summary>Runs ffmpeg (quiet, overwrite) and fails with its stderr when it exits non-zero.</summary>
    public static async Task FfmpegAsync(params string[] arguments)
    {
        var (exitCode, _, error) = await RunAsync("ffmpeg", ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", .. arguments]);
        Assert.True(exitCode == 0, $"ffmpeg {string.Join(' ', arguments)} exited with {exitCode}: {error}");
    }

    /// <summary>What ffprobe sees in a file's streams, with frames counted by decoding them all.</summary>
    public static async Task<IReadOnlyList<StreamFacts>> StreamsAsync(string path)
    {
        var (exitCode, output, error) = await RunAsync("ffprobe",
            ["-v", "error", "-count_frames", "-show_entries", "stream=index,codec_type,codec_name,width,height,r_frame_rate,nb_read_frames,pix_fmt,color_space", "-of", "json", path]);
        Assert.True(exitCode == 0, $"ffprobe {path} exited with {exitCode}: {error}");
        using var document = JsonDocument.Parse(output);
        var streams = new List<StreamFacts>();
        foreach (var stream in document.RootElement.GetProperty("streams").EnumerateArray())
        {
            streams.Add(new StreamFacts(
                Text(stream, "codec_type")!,
                Text(stream, "codec_name")!,
                stream.TryGetProperty("width", out var width) ? width.GetInt32() : 0,
                stream.TryGetProperty("height", out var height) ? height.GetInt32() : 0,
                Text(stream, "r_frame_rate"),
                Text(stream, "nb_read_frames") is { } frames ? int.Parse(frames, CultureInfo.InvariantCulture) : 0,
                Text(stream, "pix_fmt"),
                Text(stream, "color_space")));
        }

        return streams;
    }

    /// <summary>The video stream of a file (exactly one is expected).</summary>
    public static async Task<StreamFacts> VideoAsync(string path) =>
        Assert.Single(await StreamsAsync(path), s => s.Type == "video");

    /// <summary>Every decoded frame's timestamp in seconds, in order, as ffprobe reports it (the first video stream).</summary>
    public static async Task<IReadOnlyList<double>> FrameTimesAsync(string path)
    {
        var (exitCode, output, error) = await RunAsync("ffprobe",
            ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time", "-of", "csv=p=0", path]);
        Assert.True(exitCode == 0, $"ffprobe {path} exited with {exitCode}: {error}");
        // A frame with side data gets a second, empty line; a value may carry a trailing comma.
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.TrimEnd(','))
            .Where(line => line.Length > 0)
            .Select(line => double.Parse(line, CultureInfo.InvariantCulture))];
    }

    /// <summary>The display rotation of a file's first video stream in degrees (0 when it has none).</summary>
    public static async Task<int> RotationAsync(string path)
    {
        var (exitCode, output, error) = await RunAsync("ffprobe",
            ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream_side_data=rotation", "-of", "csv=p=0", path]);
        Assert.True(exitCode == 0, $"ffprobe {path} exited with {exitCode}: {error}");
        var text = output.Trim().TrimEnd(',');
        return text.Length == 0 ? 0 : int.Parse(text, CultureInfo.InvariantCulture);
    }

    /// <summary>Decodes frame <paramref name="index"/> of a file to BGRA bytes, as the writer's decoder would see it.</summary>
    public static async Task<byte[]> DecodeFrameAsync(string path, int index)
    {
        var (exitCode, output, error) = await RunBytesAsync("ffmpeg",
            ["-hide_banner", "-nostdin", "-loglevel", "error", "-i", path, "-map", "0:v:0",
             "-vf", $"select=eq(n\\,{index})", "-fps_mode", "passthrough", "-frames:v", "1", "-pix_fmt", "bgra", "-f", "rawvideo", "pipe:1"]);
        Assert.True(exitCode == 0, $"ffmpeg could not decode frame {index} of {path}: {error}");
        return output;
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.ToString() : null;

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string tool, IReadOnlyList<string> arguments)
    {
        using var process = Start(tool, arguments);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }

    private static async Task<(int ExitCode, byte[] Output, string Error)> RunBytesAsync(string tool, IReadOnlyList<string> arguments)
    {
        using var process = Start(tool, arguments);
        using var buffer = new MemoryStream();
        var output = process.StandardOutput.BaseStream.CopyToAsync(buffer);
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        await output;
        return (process.ExitCode, buffer.ToArray(), await error);
    }

    private static Process Start(string tool, IReadOnlyList<string> arguments)
    {
        var startInfo = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        try
        {
            return Process.Start(startInfo) ?? throw new InvalidOperationException($"{tool} did not start.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"{tool} is not installed or not on PATH; these tests need the real ffmpeg (apt-get install ffmpeg).", e);
        }
    }
}

/// <summary>One stream as ffprobe reports it.</summary>
public sealed record StreamFacts(
    string Type, string Codec, int Width, int Height, string? FrameRate, int FrameCount, string? PixelFormat, string? ColorSpace);
