using GEdge.Events;
using GEdge.Functions.Hosting;
using GEdge.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace GEdge.Functions.Infer;

/// <summary>Takes a job's Preprocessing_complete event, runs the Infer stage on it, and replies with the next status event.</summary>
public sealed class InferFunction(EventSubscribers subscribers)
{
    /// <summary>One delivery from the Infer Trigger.</summary>
    [Function("infer")]
    public Task<IActionResult> RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = FunctionRoutes.Root)] HttpRequest request,
        CancellationToken cancellationToken) =>
        CloudEventFunction.DeliverAsync(request, subscribers.For(GEdgeTriggers.Infer), cancellationToken);
}
