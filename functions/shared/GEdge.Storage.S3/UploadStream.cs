using System.IO.Pipelines;

namespace GEdge.Storage.S3;

/// <summary>
/// The stream a <see cref="IObjectStore.WriteAsync"/> callback writes to: the writing end of a pipe whose other end
/// feeds the upload. The pipe's pause threshold bounds how far the writer can run ahead of the upload. Unlike
/// <see cref="PipeWriter.AsStream"/>, a write fails once the upload has stopped reading (it failed), instead of
/// vanishing into a pipe nobody reads.
/// </summary>
internal sealed class UploadStream(PipeWriter writer) : Stream
{
    private long _written;

    /// <summary>How many bytes the writer has written.</summary>
    public long Written => _written;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _written;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        // A pipe has no synchronous flush; copy, then wait for the upload to make room (backpressure) as FlushAsync says.
        buffer.CopyTo(writer.GetSpan(buffer.Length));
        writer.Advance(buffer.Length);
        _written += buffer.Length;
        Check(writer.FlushAsync().AsTask().GetAwaiter().GetResult());
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var result = await writer.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        _written += buffer.Length;
        Check(result);
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush()
    {
        // Every write is flushed to the pipe already; the upload sends parts as they fill.
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private static void Check(FlushResult result)
    {
        if (result.IsCanceled)
        {
            throw new OperationCanceledException("The upload was canceled.");
        }

        if (result.IsCompleted)
        {
            throw new IOException("The upload stopped before the object was completely written; the store reports why.");
        }
    }
}
