using GEdge.Contracts;
using GEdge.Events;
using GEdge.Events.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Hosting;

/// <summary>The endpoints of a stage function in an ASP.NET Core host; the Azure Functions apps declare the same as <c>[Function]</c>s.</summary>
public static class FunctionEndpoints
{
    /// <summary>
    /// Maps <paramref name="stage"/>'s function: <c>POST /</c>, which hands the event to the subscriber on
    /// the stage's trigger and replies with the next one (the Knative reply pattern). Its subscribers are built now, so
    /// a process that cannot load what its stage needs (the model manifest, Infer's session) fails at start, not at its
    /// first event.
    /// </summary>
    public static void MapStageFunction(this IEndpointRouteBuilder endpoints, PipelineStage stage)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(stage);
        var subscriber = endpoints.ServiceProvider.GetRequiredService<EventSubscribers>().For(GEdgeTriggers.For(stage));
        endpoints.MapCloudEvents("/", subscriber);
    }
}
