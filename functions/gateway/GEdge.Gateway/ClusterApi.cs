using GEdge.Jobs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GEdge.Gateway;

/// <summary>
/// <c>GET /api/cluster</c>: what the cluster is doing now (<see cref="ClusterActivity"/>): per stage, segments waiting,
/// in flight and done in the last minute, for the dashboard's cluster view. Counts of every user's work together, never
/// whose or which, so any user's key reads it.
/// </summary>
public static class ClusterApi
{
    /// <summary>Where the cluster's activity is read.</summary>
    public const string Path = "/api/cluster";

    /// <summary>Maps <c>GET /api/cluster</c>, behind the API key policy.</summary>
    public static RouteHandlerBuilder MapClusterApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints.MapGet(Path, async (JobTable.JobTable jobs, TimeProvider time) => TypedResults.Ok(await ClusterActivity.ReadAsync(jobs, time).ConfigureAwait(false)))
            .WithName("GetCluster").WithTags("Cluster")
            .RequireAuthorization(ApiKeyAuthentication.Policy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .WithSummary("What the cluster is doing now: per stage, the segments waiting, in flight, and done in the last minute (every user's, in counts).");
    }
}
