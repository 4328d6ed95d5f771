using Microsoft.AspNetCore.Http;

namespace GEdge.Events.AspNetCore;

/// <summary>Reads a request body into memory, refusing to read past a limit (events and notifications are small).</summary>
internal static class RequestBody
{
    /// <summary>The body, or null when it is longer than <paramref name="limit"/> bytes.</summary>
    public static async Task<ReadOnlyMemory<byte>?> ReadAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return null;
        }

        // Content-Length may be absent (chunked) or lie; count what actually arrives, one byte past the limit at most.
        var buffer = new byte[request.ContentLength is { } length ? (int)length + 1 : Math.Min(limit + 1, 16 * 1024)];
        var read = 0;
        while (true)
        {
            if (read == buffer.Length)
            {
                if (buffer.Length > limit)
                {
                    return null;
                }

                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, limit + 1));
            }

            var count = await request.Body.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (count == 0)
            {
                return buffer.AsMemory(0, read);
            }

            read += count;
        }
    }
}
