using System.Globalization;
using GEdge.Vision;

namespace GEdge.Media;

/// <summary>
/// Decodes an H.264 stream of letterboxed bands (what <see cref="LetterboxFrameReader.EncodeBandsAsync"/> writes) with one
/// ffmpeg process back into raw rows in the model's channel order: <see cref="Frames"/> is the band of each frame after the
/// other, as a raw frame chunk holds them, so a reader of chunks reads it the same way.
/// </summary>
public sealed class BandStreamDecoder : IDisposable
{
    private readonly FfmpegProcess _process;

    private BandStreamDecoder(FfmpegProcess process) => _process = process;

    /// <summary>The decoded bands, back to back.</summary>
    public Stream Frames => _process.Output;

    /// <summary>The ffmpeg command line (without the binary) that decodes <paramref name="path"/>.</summary>
    public static IReadOnlyList<string> BuildArguments(string path, ChannelOrder channelOrder) =>
    [
        "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+error",
        "-f", "h264", "-i", path,
        "-map", "0:v:0",

        // Every coded frame comes out exactly once, whatever rate the raw stream's demuxer assumes.
        "-fps_mode", "passthrough",
        "-f", "rawvideo", "-pix_fmt", channelOrder switch
        {
            ChannelOrder.Rgb => "rgb24",
            ChannelOrder.Bgr => "bgr24",
            _ => throw new ArgumentOutOfRangeException(nameof(channelOrder), channelOrder, "Unknown channel order."),
        },
        "pipe:1",
    ];

    /// <summary>Starts decoding the stream in the file <paramref name="path"/>.</summary>
    /// <exception cref="MediaException">ffmpeg could not be started (<see cref="MediaErrorKind.ToolMissing"/>).</exception>
    public static BandStreamDecoder Start(string path, ChannelOrder channelOrder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return new BandStreamDecoder(FfmpegProcess.Start("band decoder", path, BuildArguments(path, channelOrder), FfmpegPipes.Output,
            line => FfmpegProcess.WithoutContext(line)));
    }

    /// <summary>
    /// After the expected frames were read: checks that the stream held no more than those and that ffmpeg decoded it
    /// without an error; a stream that ended early is reported by ffmpeg's reason when it has one.
    /// </summary>
    /// <exception cref="MediaException">ffmpeg failed, or the stream held more bytes than the frames read.</exception>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        var extra = 0L;
        var buffer = new byte[4096];
        int read;
        while ((read = await Frames.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            extra += read;
        }

        var exitCode = await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw _process.Failure(exitCode, "decoding");
        }

        if (extra > 0)
        {
            throw new MediaException(_process.Path, MediaErrorKind.DecodeFailed, string.Create(CultureInfo.InvariantCulture,
                $"{Path.GetFileName(_process.Path)} decoded to {extra} bytes more than its frames: its bands are not the size its manifest says."));
        }
    }

    /// <inheritdoc />
    public void Dispose() => _process.Dispose();
}
