using GEdge.Events;
using GEdge.Functions.Hosting;
using GEdge.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace GEdge.Functions.Preprocess;

/// <summary>Takes a job's Enqueue event, runs the Preprocess stage on it, and replies with the next status event.</summary>
public sealed class PreprocessFunction(EventSubscribers subscribers)
{
    /// <summary>One delivery from the Preprocess Trigger.</summary>
    [Function("preprocess")]
    public Task<IActionResult> RunAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = FunctionRoutes.Root)] HttpRequest request,
        CancellationToken cancellationToken) =>
        CloudEventFunction.DeliverAsync(request, subscribers.For(GEdgeTriggers.Preprocess), cancellationToken);
}
