using GEdge.Functions.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace GEdge.Functions.Tests;

/// <summary>
/// The worker's side of one HTTP invocation, minus the host: the ASP.NET Core integration's middleware hands the request
/// to <see cref="EventFailureMiddleware"/>, which calls the function, and the function's answer is executed afterwards.
/// </summary>
internal static class IntegrationPipeline
{
    // Where the integration's middleware (FunctionsHttpProxyingMiddleware) leaves the request's HttpContext for the rest of
    // the pipeline; GetHttpContext() reads it from there.
    private const string HttpContextKey = "HttpRequestContext";

    public static async Task InvokeAsync(HttpContext http, Func<Task<IActionResult>> function, FakeLoggerProvider logs)
    {
        using var loggerFactory = LoggerFactory.Create(logging => logging.AddProvider(logs));
        var middleware = new EventFailureMiddleware(loggerFactory.CreateLogger<EventFailureMiddleware>());
        IActionResult? result = null;

        await middleware.Invoke(new InvocationContext(http), async _ => result = await function());

        if (result is not null)
        {
            await FunctionCalls.ExecuteAsync(result, http);
        }
    }

    /// <summary>A function invocation's context that holds an HttpContext, as the integration's middleware leaves it.</summary>
    internal sealed class InvocationContext(HttpContext? http) : FunctionContext
    {
        public override string InvocationId { get; } = Guid.NewGuid().ToString("N");

        public override string FunctionId => "test";

        public override TraceContext TraceContext => throw new NotSupportedException();

        public override BindingContext BindingContext => throw new NotSupportedException();

        public override RetryContext RetryContext => throw new NotSupportedException();

        public override IServiceProvider InstanceServices { get; set; } = null!;

        public override FunctionDefinition FunctionDefinition => throw new NotSupportedException();

        public override IDictionary<object, object> Items { get; set; } =
            http is null ? new Dictionary<object, object>() : new Dictionary<object, object> { [HttpContextKey] = http };

        public override IInvocationFeatures Features => throw new NotSupportedException();

        public override CancellationToken CancellationToken => CancellationToken.None;
    }
}
