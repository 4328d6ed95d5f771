namespace GEdge.Storage.S3;

/// <summary>
/// Keeps the Minio client from copying every part it uploads twice more. After the server has answered a part's PUT,
/// Minio 7 runs <c>await response.Request.Content.ReadAsByteArrayAsync()</c> and drops the result: for each 16 MiB
/// part that buffers the body and copies it out again, tripling the memory an upload allocates and adding 32 MiB to
/// its peak. Once the final response is in (after any retries, which need the body), the request's body has been
/// sent and nothing else reads it, so this handler swaps it for an empty one and that read copies nothing.
/// </summary>
internal sealed class SentBodyReleaseHandler(HttpMessageHandler innerHandler) : DelegatingHandler(innerHandler)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        // Minio sends in-memory bodies (parts, small objects) as ReadOnlyMemoryContent; the content object that
        // was serialized is untouched, only the request stops pointing at it.
        if (request.Content is ReadOnlyMemoryContent)
        {
            request.Content = new ReadOnlyMemoryContent(ReadOnlyMemory<byte>.Empty);
        }

        return response;
    }
}
