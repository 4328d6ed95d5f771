using System.Buffers.Binary;

namespace GEdge.Gateway;

/// <summary>
/// Recognises a video container by its first bytes, as <c>file(1)</c> and browsers' MIME sniffing do, so the gateway
/// refuses what is plainly not a video (a text, a JPEG renamed .mp4) before anything is stored. It checks the container
/// only: a damaged video that starts right is Preprocess's to find, and its job ends in Exit with the reason.
/// </summary>
public static class VideoSignature
{
    /// <summary>How many leading bytes <see cref="Identify"/> wants, when the upload has them (three MPEG-TS packets of 192 bytes).</summary>
    public const int HeadLength = 3 * 192;

    // The ISO base media file format (MP4, MOV, 3GP, M4V) starts with a box: 4 bytes of size, then its type. 'ftyp' comes
    // first in files written today; older QuickTime files may start with their movie, data or padding boxes.
    private static readonly byte[][] s_isoBoxes =
        ["ftyp"u8.ToArray(), "moov"u8.ToArray(), "mdat"u8.ToArray(), "wide"u8.ToArray(), "free"u8.ToArray(), "skip"u8.ToArray(), "pnot"u8.ToArray()];

    /// <summary>The container <paramref name="head"/> starts, by name (<c>"ISO base media (MP4/QuickTime)"</c>, ...), or null when it is none of them.</summary>
    public static string? Identify(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 8 && IsIsoBox(head))
        {
            return "ISO base media (MP4/QuickTime)";
        }

        if (head.StartsWith((ReadOnlySpan<byte>)[0x1A, 0x45, 0xDF, 0xA3]))
        {
            return "Matroska/WebM";
        }

        if (head.Length >= 12 && head.StartsWith("RIFF"u8) && head[8..12].SequenceEqual("AVI "u8))
        {
            return "AVI";
        }

        if (head.StartsWith("FLV\x01"u8))
        {
            return "FLV";
        }

        if (head.StartsWith((ReadOnlySpan<byte>)[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11]))
        {
            return "ASF (Windows Media)";
        }

        if (head.StartsWith("OggS"u8))
        {
            return "Ogg";
        }

        if (head.StartsWith((ReadOnlySpan<byte>)[0x00, 0x00, 0x01, 0xBA]) || head.StartsWith((ReadOnlySpan<byte>)[0x00, 0x00, 0x01, 0xB3]))
        {
            return "MPEG program stream";
        }

        if (IsTransportStream(head, packet: 188, offset: 0) || IsTransportStream(head, packet: 192, offset: 4))
        {
            return "MPEG transport stream";
        }

        return null;
    }

    /// <summary>Why <paramref name="head"/> is refused, naming what it looks like where that is known; null when it is a video container.</summary>
    public static string? Refusal(ReadOnlySpan<byte> head)
    {
        if (Identify(head) is not null)
        {
            return null;
        }

        if (head.IsEmpty)
        {
            return "The upload is empty.";
        }

        var looksLike =
            head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]) ? "a JPEG image"
            : head.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47]) ? "a PNG image"
            : head.StartsWith("GIF8"u8) ? "a GIF image"
            : head.StartsWith("%PDF"u8) ? "a PDF document"
            : head.StartsWith("PK\x03\x04"u8) ? "a ZIP archive"
            : head.Length >= 12 && head.StartsWith("RIFF"u8) && head[8..12].SequenceEqual("WEBP"u8) ? "a WebP image"
            : head.Length >= 12 && head.StartsWith("RIFF"u8) && head[8..12].SequenceEqual("WAVE"u8) ? "a WAV sound"
            : head.StartsWith("ID3"u8) ? "an MP3 sound"
            : System.Text.Unicode.Utf8.IsValid(head[..Math.Min(head.Length, 512)]) ? "text"
            : null;
        return looksLike is null
            ? "The upload does not start as a video container does (MP4/QuickTime, Matroska/WebM, AVI, MPEG, FLV, ASF, Ogg)."
            : $"The upload is {looksLike}, not a video container (MP4/QuickTime, Matroska/WebM, AVI, MPEG, FLV, ASF, Ogg).";
    }

    private static bool IsIsoBox(ReadOnlySpan<byte> head)
    {
        var size = BinaryPrimitives.ReadUInt32BigEndian(head);
        // 0 means "to the end of the file", 1 "a 64-bit size follows"; anything else is at least the box's own header.
        if (size is not (0 or 1) && size < 8)
        {
            return false;
        }

        foreach (var box in s_isoBoxes)
        {
            if (head.Slice(4, 4).SequenceEqual(box))
            {
                return true;
            }
        }

        return false;
    }

    // A transport stream is a run of fixed-size packets, each starting with the sync byte 0x47 (M2TS puts a 4-byte
    // timestamp before each 188-byte packet). One 0x47 proves little (it is a 'G'); every packet the head holds must
    // agree, and it must hold at least two.
    private static bool IsTransportStream(ReadOnlySpan<byte> head, int packet, int offset)
    {
        var packets = 0;
        for (var at = offset; at < head.Length; at += packet)
        {
            if (head[at] != 0x47)
            {
                return false;
            }

            packets++;
        }

        return packets >= 2;
    }
}
