using System.Buffers;
using GEdge.Vision;

namespace GEdge.Media;

/// <summary>
/// One model-ready frame: <c>InputWidth x InputHeight x 3</c> interleaved bytes, letterboxed as <see cref="Letterbox"/> says,
/// in a buffer rented from <see cref="ArrayPool{T}.Shared"/>. Dispose it to return the buffer; keep it as long as needed.
/// </summary>
public sealed class LetterboxedFrame : IDisposable
{
    private byte[]? _buffer;
    private readonly int _length;

    internal LetterboxedFrame(byte[] buffer, int length, long index, TimeSpan timestamp, LetterboxTransform letterbox)
    {
        _buffer = buffer;
        _length = length;
        Index = index;
        Timestamp = timestamp;
        Letterbox = letterbox;
    }

    /// <summary>Position of the frame in decode order, from 0.</summary>
    public long Index { get; }

    /// <summary>Presentation timestamp of the frame in the source.</summary>
    public TimeSpan Timestamp { get; }

    /// <summary>How the source frame was fitted into the model input.</summary>
    public LetterboxTransform Letterbox { get; }

    /// <summary>The pixels; valid until the frame is disposed.</summary>
    public ReadOnlyMemory<byte> Pixels => new(_buffer ?? throw new ObjectDisposedException(nameof(LetterboxedFrame)), 0, _length);

    /// <summary>The pixels as a span; valid until the frame is disposed.</summary>
    public ReadOnlySpan<byte> Span => Pixels.Span;

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
