namespace GEdge.Storage.S3;

/// <summary>
/// An object's bytes as they arrive: the HTTP response body that Minio hands its GetObject callback, passed on to the
/// reader without copying. The callback stays suspended until the reader disposes this stream, because Minio releases
/// the response (and its connection) as soon as the callback returns.
/// </summary>
internal sealed class ObjectBodyStream(Stream body, long length) : Stream
{
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _position;
    private Task _download = Task.CompletedTask;

    /// <summary>Completes when the reader has disposed the stream.</summary>
    public Task Closed => _closed.Task;

    public override bool CanRead => !_closed.Task.IsCompleted;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    /// <summary>The object's size, from the response's Content-Length, so readers can size buffers and progress.</summary>
    public override long Length => length >= 0 ? length : throw new NotSupportedException("The server did not say how long the object is.");

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    /// <summary>The GetObject call that feeds this stream; disposing waits for it so the connection is released.</summary>
    public void Attach(Task download) => _download = download;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_closed.Task.IsCompleted, this);
        var read = body.Read(buffer);
        _position += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_closed.Task.IsCompleted, this);
        var read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        _position += read;
        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        if (_closed.TrySetResult())
        {
            // The download ends once the callback returns; its failure (if any) was the reader's to see while reading.
            await _download.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        // A synchronous dispose only releases the callback; Minio then disposes the response on its own.
        _closed.TrySetResult();
        base.Dispose(disposing);
    }
}
