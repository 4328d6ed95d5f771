using GEdge.Jobs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GEdge.Gateway;

/// <summary>
/// <c>GET /api/capacity</c>: what this edge tells a peer that might send it segments, with any key (a peer is a user
/// here), in counts only (<see cref="EdgeCapacity"/>).
/// </summary>
public static class CapacityApi
{
    /// <summary>Where the capacity is read.</summary>
    public const string Path = "/api/capacity";

    /// <summary>Maps <c>GET /api/capacity</c>, behind the API key policy.</summary>
    public static RouteHandlerBuilder MapCapacityApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints.MapGet(Path, async (JobTable.JobTable jobs, TimeProvider time) => TypedResults.Ok(await EdgeCapacity.ReadAsync(jobs, time).ConfigureAwait(false)))
            .WithName("GetCapacity").WithTags("Cluster")
            .RequireAuthorization(ApiKeyAuthentication.Policy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .WithSummary("This edge's capacity for a peer: per stage, the segments waiting, in flight and done in the last minute, how long a segment sent now would wait (seconds; null when unknown), its processes running now and whether one computes on a GPU.");
    }
}
