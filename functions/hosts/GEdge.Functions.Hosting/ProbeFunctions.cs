using GEdge.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace GEdge.Functions.Hosting;

/// <summary>
/// The liveness and readiness probes Knative sends, answered by <see cref="FunctionProbes"/> exactly as <c>gedge
/// function</c> answers them: ready means the job table answers, the app's subscribers are built (its store client and
/// stage; Infer's session loaded) and whatever its stage adds (Infer: the model), so the first event does not pay for
/// the cold start. A dependency failing later makes the app unready again, with the reason.
/// </summary>
public sealed class ProbeFunctions(IServiceProvider services)
{
    /// <summary>Answers 200 while the worker runs.</summary>
    [Function("healthz")]
    public static IActionResult Liveness([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = FunctionRoutes.Liveness)] HttpRequest request) =>
        Answer(FunctionProbes.Liveness());

    /// <summary>Answers 200 once every readiness check passes, 503 with the reasons until then.</summary>
    [Function("readyz")]
    public async Task<IActionResult> ReadinessAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = FunctionRoutes.Readiness)] HttpRequest request,
        CancellationToken cancellationToken) =>
        Answer(await FunctionProbes.ReadinessAsync(services, cancellationToken).ConfigureAwait(false));

    private static ContentResult Answer(ProbeAnswer answer) =>
        new() { StatusCode = answer.StatusCode, Content = answer.Text, ContentType = "text/plain; charset=utf-8" };
}
