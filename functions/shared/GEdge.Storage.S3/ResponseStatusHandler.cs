using System.Net;

namespace GEdge.Storage.S3;

/// <summary>
/// Tells a GetObject callback about the response whose body it is given. Minio 7 runs the callback on the response
/// body before it looks at the status code (it raises the error only after the callback returns), so a callback that
/// handed the body out at once would hand out an error document as the object's bytes. A download opens a
/// <see cref="ResponseScope"/>; this handler, which sees every final response, records the response in it.
/// </summary>
internal sealed class ResponseStatusHandler(HttpMessageHandler innerHandler) : DelegatingHandler(innerHandler)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        ResponseScope.Record(response);
        return response;
    }
}

/// <summary>The status and length of the last response received in the current asynchronous flow (see <see cref="ResponseStatusHandler"/>).</summary>
internal sealed class ResponseScope
{
    // An AsyncLocal flows from the caller into the Minio client, its HttpClient and the handler, and the scope is a
    // reference, so what the handler writes is what the callback, called later in the same flow, reads.
    private static readonly AsyncLocal<ResponseScope?> s_current = new();

    /// <summary>The status of the latest response, or 0 before any.</summary>
    public HttpStatusCode Status { get; private set; }

    /// <summary>The latest response's Content-Length, or -1 when it had none.</summary>
    public long ContentLength { get; private set; } = -1;

    /// <summary>Starts recording in the current flow: the responses to the calls made from here on are recorded.</summary>
    public static ResponseScope Begin()
    {
        var scope = new ResponseScope();
        s_current.Value = scope;
        return scope;
    }

    internal static void Record(HttpResponseMessage response)
    {
        if (s_current.Value is { } scope)
        {
            // The calls of one flow run one after another, so there is no concurrent writer; the await that resumes
            // the callback publishes these writes to it.
            scope.ContentLength = response.Content.Headers.ContentLength ?? -1;
            scope.Status = response.StatusCode;
        }
    }
}
