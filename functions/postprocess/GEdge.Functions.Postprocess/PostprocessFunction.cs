using GEdge.Events;
using GEdge.Functions.Hosting;
using GEdge.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace GEdge.Functions.Postprocess;

/// <summary>Takes a job's Inferencing_complete event, runs the Postprocess stage on it, and replies with the job's Exit event.</summary>
public sealed class PostprocessFunction(EventSubscribers subscribers)
{
    /// <summary>One delivery from the Postprocess Trigger.</summary>
    [Function("postprocess")]
    public Task<IActionResult> RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = FunctionRoutes.Root)] HttpRequest request,
        CancellationToken cancellationToken) =>
        CloudEventFunction.DeliverAsync(request, subscribers.For(GEdgeTriggers.Postprocess), cancellationToken);
}
