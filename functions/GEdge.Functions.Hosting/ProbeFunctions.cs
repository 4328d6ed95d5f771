using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GEdge.Functions.Hosting;

/// <summary>
/// The liveness and readiness probes Knative sends. Ready means the app's subscribers are built: the job table connected,
/// and for a stage its storage client and model (Infer's session loaded), so the first event does not pay for the cold
/// start. A dependency failing later does not make the app unready: its events fail with 500 and are delivered again.
/// </summary>
public sealed partial class ProbeFunctions(IServiceProvider services, ILogger<ProbeFunctions> logger)
{
    /// <summary>Answers 200 while the worker runs.</summary>
    [Function("healthz")]
    public static IActionResult Liveness([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = FunctionRoutes.Liveness)] HttpRequest request) =>
        new OkObjectResult("alive");

    /// <summary>Answers 200 once the app's subscribers are built, 503 with the reason until then.</summary>
    [Function("readyz")]
    public IActionResult Readiness([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = FunctionRoutes.Readiness)] HttpRequest request)
    {
        try
        {
            // Resolved here, not injected: a failure to build them is the answer, not a failed activation.
            services.GetRequiredService<EventSubscribers>();
            return new OkObjectResult("ready");
        }
#pragma warning disable CA1031 // Whatever stops the subscribers from being built makes the app unready, and says why.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogNotReady(logger, e);
            return new ObjectResult($"not ready: {e.Message}") { StatusCode = StatusCodes.Status503ServiceUnavailable };
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not ready: the subscribers could not be built")]
    private static partial void LogNotReady(ILogger logger, Exception exception);
}
