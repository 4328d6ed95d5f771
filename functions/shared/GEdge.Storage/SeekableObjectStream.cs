namespace GEdge.Storage;

/// <summary>
/// A stored object as a read-only seekable stream of known length. Reading opens the object at the current position
/// (<see cref="IObjectStore.OpenReadFromAsync"/>: a ranged GET on S3), and a seek elsewhere closes that read, so a reader
/// that jumps, such as ASP.NET Core's range processing answering a video player, transfers only what it reads.
/// </summary>
public sealed class SeekableObjectStream : Stream
{
    private readonly IObjectStore _store;
    private Stream? _current;
    private long _position;
    private bool _disposed;

    /// <summary>A stream over <paramref name="info"/>, the object as the store last described it.</summary>
    public SeekableObjectStream(IObjectStore store, ObjectInfo info)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(info);
        _store = store;
        Info = info;
    }

    /// <summary>The object read: its size, etag and last modification time.</summary>
    public ObjectInfo Info { get; }

    /// <inheritdoc />
    public override bool CanRead => !_disposed;

    /// <inheritdoc />
    public override bool CanSeek => !_disposed;

    /// <inheritdoc />
    public override bool CanWrite => false;

    /// <inheritdoc />
    public override long Length => Info.Size;

    /// <inheritdoc />
    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin), origin, "Not a seek origin."),
        };
        ArgumentOutOfRangeException.ThrowIfNegative(position, nameof(offset));
        if (position != _position)
        {
            // The open read continues from the old position; the next read opens one at the new position.
            _current?.Dispose();
            _current = null;
            _position = position;
        }

        return _position;
    }

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer.IsEmpty || _position >= Length)
        {
            return 0;
        }

        _current ??= await _store.OpenReadFromAsync(Info.Bucket, Info.Key, _position, cancellationToken).ConfigureAwait(false);
        var read = await _current.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        _position += read;
        return read;
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) =>
        // Stores are asynchronous; a synchronous reader waits for them.
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException("A stored object is read-only.");

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("A stored object is read-only.");

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        _disposed = true;
        if (_current is not null)
        {
            await _current.DisposeAsync().ConfigureAwait(false);
            _current = null;
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        if (disposing)
        {
            _current?.Dispose();
            _current = null;
        }

        base.Dispose(disposing);
    }
}
