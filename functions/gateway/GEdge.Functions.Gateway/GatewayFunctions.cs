using GEdge.Events;
using GEdge.Events.AspNetCore;
using GEdge.Functions.Hosting;
using GEdge.Gateway;
using GEdge.Hosting;
using GEdge.Jobs;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;

namespace GEdge.Functions.Gateway;

/// <summary>
/// The upload adapter, the dead-letter sink and the HTTP API. An upload (MinIO's notification, or a <c>video uploaded</c>
/// event from the Broker) becomes a job, announced with its Enqueue event; a dead letter is recorded on its job; an
/// <c>/api</c> or dashboard request goes through the gateway's own HTTP pipeline.
/// </summary>
public sealed class GatewayFunctions(
    EventSubscribers subscribers,
    MinioNotificationHandler minio,
    DeliveryFailureRecorder deadLetters,
    StuckJobSweeper sweeper,
    GatewayHttpPipeline http,
    IOptions<GatewayOptions> options)
{
    // The public gateway of a cluster takes no events (GatewayOptions.EventEndpoints): they are answered as a route that
    // is not there.
    private bool TakesEvents => options.Value.EventEndpoints;

    /// <summary>
    /// The jobs API, the session and the OpenAPI document (<c>/api/...</c>): the same endpoints and API key authentication
    /// every host maps (<see cref="GatewayServiceCollectionExtensions.MapGatewayApi"/>), run as one pipeline; it writes
    /// the response itself.
    /// </summary>
    [Function("api")]
    public Task<IActionResult> ApiAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", "delete", Route = FunctionRoutes.Api)] HttpRequest request) =>
        ServeAsync(request);

    /// <summary>
    /// The dashboard: its page (<c>GET /</c>; a <c>POST</c> there is an event, for <see cref="IntakeAsync"/>) and its
    /// assets (<c>/dashboard/...</c>), through the same pipeline as the API.
    /// </summary>
    [Function("dashboard")]
    public Task<IActionResult> DashboardAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "head", Route = FunctionRoutes.Root)] HttpRequest request) =>
        ServeAsync(request);

    /// <summary>The dashboard's scripts, styles and vendored libraries.</summary>
    [Function("dashboard-assets")]
    public Task<IActionResult> DashboardAssetsAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "head", Route = FunctionRoutes.DashboardAssets)] HttpRequest request) =>
        ServeAsync(request);

    /// <summary>A <c>video uploaded</c> event from the Intake Trigger; the reply is the new job's Enqueue event.</summary>
    [Function("intake")]
    public Task<IActionResult> IntakeAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = FunctionRoutes.Root)] HttpRequest request,
        CancellationToken cancellationToken) =>
        TakesEvents ? CloudEventFunction.DeliverAsync(request, subscribers.For(GEdgeTriggers.Intake), cancellationToken) : NotHere();

    /// <summary>A MinIO bucket notification; its Enqueue events are published, since MinIO takes no reply.</summary>
    [Function("minio-notifications")]
    public async Task<IActionResult> MinioNotificationsAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = FunctionRoutes.MinioNotifications)] HttpRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new HttpResultAction(await minio.HandleAsync(request.HttpContext, subscribers.For(GEdgeTriggers.Intake), cancellationToken).ConfigureAwait(false));
    }

    /// <summary>An event a Trigger gave up delivering; 202 once it is recorded on its job.</summary>
    [Function("dead-letter")]
    public Task<IActionResult> DeadLetterAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = FunctionRoutes.DeadLetters)] HttpRequest request,
        CancellationToken cancellationToken) =>
        TakesEvents ? CloudEventFunction.DeliverAsync(request, deadLetters, cancellationToken) : NotHere();

    /// <summary>The sweeper's PingSource: takes back the jobs whose stage lease ran out; 200 with how many.</summary>
    [Function("sweep")]
    public async Task<IActionResult> SweepAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = FunctionRoutes.Sweep)] HttpRequest request,
        CancellationToken cancellationToken) =>
        !TakesEvents ? await NotHere().ConfigureAwait(false)
            : await CloudEventFunction.RefuseAsync(request).ConfigureAwait(false)
              ?? new OkObjectResult(new SweepResult(await sweeper.SweepAsync(cancellationToken).ConfigureAwait(false)));

    private static Task<IActionResult> NotHere() => Task.FromResult<IActionResult>(new NotFoundResult());

    // The pipeline writes the response itself.
    private async Task<IActionResult> ServeAsync(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        await http.InvokeAsync(request.HttpContext).ConfigureAwait(false);
        return new EmptyResult();
    }
}
