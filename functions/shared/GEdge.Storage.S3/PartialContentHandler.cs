using System.Net;

namespace GEdge.Storage.S3;

/// <summary>
/// Lets the Minio client take the answer to its own ranged GetObject. Minio 7.0.0 treats a 206 Partial Content as an
/// error (<c>PartialContentException</c>; minio-dotnet#1342, fixed after 7.0.0), although a ranged GET answers exactly
/// that, and so does the HEAD it sends first with the same Range header. For a GET or HEAD that asked for a range, this
/// handler shows Minio a 206 as the 200 it expects; it sits outside
/// <see cref="ResponseStatusHandler"/>, so the download still sees the real status and checks that a range was served.
/// </summary>
internal sealed class PartialContentHandler(HttpMessageHandler innerHandler) : DelegatingHandler(innerHandler)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.PartialContent && (request.Method == HttpMethod.Get || request.Method == HttpMethod.Head) && request.Headers.Contains("Range"))
        {
            response.StatusCode = HttpStatusCode.OK;
        }

        return response;
    }
}
