using System.Net;
using System.Runtime.CompilerServices;
using System.Text;

namespace GEdge.Storage.Tests;

/// <summary>
/// Stands between the store and the server and answers chosen requests itself with an S3-style error, as a failing
/// server or load balancer would; records what it sees.
/// </summary>
public sealed class FaultInjectingHandler(HttpMessageHandler innerHandler, Func<HttpRequestMessage, bool, HttpStatusCode?> fault)
    : DelegatingHandler(innerHandler)
{
    private readonly ConditionalWeakTable<HttpRequestMessage, object> _seen = [];
    private readonly List<string> _requests = [];
    private int _attempts;
    private int _faults;

    /// <summary>Every attempt that reached this handler, retries included.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>The attempts this handler answered with an error instead of the server.</summary>
    public int Faults => Volatile.Read(ref _faults);

    /// <summary>Every attempt as "METHOD /path?query", in order.</summary>
    public IReadOnlyList<string> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Fails the first attempt of every request with 503 Slow Down; its retry goes through.</summary>
    public static FaultInjectingHandler FirstAttemptsFail(HttpMessageHandler inner) =>
        new(inner, (_, retry) => retry ? null : HttpStatusCode.ServiceUnavailable);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _attempts);
        lock (_requests)
        {
            _requests.Add($"{request.Method} {request.RequestUri?.PathAndQuery}");
        }

        // A retry sends the same message object again.
        var retry = _seen.TryGetValue(request, out _);
        _seen.AddOrUpdate(request, request);
        if (fault(request, retry) is not { } status)
        {
            return base.SendAsync(request, cancellationToken);
        }

        Interlocked.Increment(ref _faults);
        var code = status == HttpStatusCode.ServiceUnavailable ? "SlowDown" : "InternalError";
        var body = $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>Injected by the test.</Message><Resource>{request.RequestUri?.AbsolutePath}</Resource><RequestId>test</RequestId></Error>";
        return Task.FromResult(new HttpResponseMessage(status)
        {
            RequestMessage = request,
            Content = new StringContent(body, Encoding.UTF8, "application/xml"),
        });
    }
}
