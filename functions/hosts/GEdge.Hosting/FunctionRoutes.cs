namespace GEdge.Hosting;

/// <summary>
/// The HTTP routes of the function apps, as Knative reaches them. Every host.json sets <c>extensions.http.routePrefix</c>
/// to empty, so these are paths from the site root, not under Functions' default <c>api/</c>.
/// </summary>
public static class FunctionRoutes
{
    /// <summary>
    /// The site root, <c>/</c>, where a Trigger delivers events. The Functions host reads an empty route as "route by the
    /// function's name", so the root is spelled as an optional parameter that must be empty.
    /// </summary>
    public const string Root = "{root:maxlength(0)?}";

    /// <summary>The liveness probe: the worker answers.</summary>
    public const string Liveness = "healthz";

    /// <summary>The readiness probe: the app's subscribers are built (job table connected, Infer's model loaded).</summary>
    public const string Readiness = "readyz";

    /// <summary>Where Prometheus scrapes the process's metrics (<see cref="FunctionMetrics"/>).</summary>
    public const string Metrics = "metrics";

    /// <summary>Where MinIO's webhook target posts bucket notifications (the gateway).</summary>
    public const string MinioNotifications = "events/minio";

    /// <summary>Where the Broker's Triggers send events they could not deliver (the gateway is their dead-letter sink).</summary>
    public const string DeadLetters = "events/dead-letter";

    /// <summary>The gateway's HTTP API: everything under <c>/api</c> (jobs, session, the OpenAPI document).</summary>
    public const string Api = "api/{*path}";

    /// <summary>The dashboard's assets (its page is <c>GET /</c>, <see cref="Root"/>).</summary>
    public const string DashboardAssets = "dashboard/{*path}";

    /// <summary>Where the sweeper's PingSource posts (the gateway takes back jobs whose stage lease ran out).</summary>
    public const string Sweep = "events/sweep";
}
