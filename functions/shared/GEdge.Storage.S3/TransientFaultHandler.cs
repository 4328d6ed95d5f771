using System.Net;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace GEdge.Storage.S3;

/// <summary>
/// Retries each HTTP request the Minio client sends when it failed transiently: no connection (refused, reset,
/// DNS), a 5xx, or a 429. Retrying here, one request at a time, is what makes it safe: a request's body is a part
/// the client already holds in memory, and a download is retried only before its body is handed to a reader, so
/// the writer callback of <see cref="S3ObjectStore.WriteAsync"/> never runs twice and a reader never sees bytes twice.
/// </summary>
internal sealed partial class TransientFaultHandler : DelegatingHandler
{
    private static readonly ResiliencePropertyKey<HttpRequestMessage> s_request = new("gedge.s3.request");
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly ILogger _logger;

    public TransientFaultHandler(int retryAttempts, TimeSpan firstDelay, ILogger logger, HttpMessageHandler innerHandler)
        : base(innerHandler)
    {
        _logger = logger;
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        if (retryAttempts > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = retryAttempts,
                Delay = firstDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .HandleResult(response => IsTransient(response.StatusCode)),
                OnRetry = args =>
                {
                    var request = args.Context.Properties.GetValue(s_request, null!);
                    LogRetry(
                        args.Outcome.Exception,
                        request.Method,
                        request.RequestUri?.AbsolutePath,
                        args.Outcome.Result is { } failed ? $"HTTP {(int)failed.StatusCode}" : args.Outcome.Exception?.Message,
                        args.AttemptNumber + 1,
                        args.RetryDelay);
                    // The failed response is dropped for a new attempt; release its connection now.
                    args.Outcome.Result?.Dispose();
                    return ValueTask.CompletedTask;
                },
            });
        }

        _pipeline = builder.Build();
    }

    private static bool IsTransient(HttpStatusCode status) => (int)status >= 500 || status == HttpStatusCode.TooManyRequests;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(s_request, request);
        try
        {
            // The same message is sent again on a retry: HttpClient forbids that, handlers below it do not, and the
            // Minio client's bodies (in-memory parts, short XML documents) can be serialized more than once.
            return await _pipeline.ExecuteAsync(
                static (context, state) => new ValueTask<HttpResponseMessage>(state.Handler.SendOnceAsync(state.Request, context.CancellationToken)),
                context,
                (Handler: this, Request: request)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        base.SendAsync(request, cancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "S3 {Method} {Path} failed ({Failure}); retry {Attempt} in {Delay}")]
    private partial void LogRetry(Exception? exception, HttpMethod method, string? path, string? failure, int attempt, TimeSpan delay);
}
