using System.Diagnostics.CodeAnalysis;
using GEdge.Events.AspNetCore;
using GEdge.Stages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Gateway;

/// <summary>Registers and maps the gateway function.</summary>
public static class GatewayServiceCollectionExtensions
{
    /// <summary>Where a broker posts the events it could not deliver.</summary>
    public const string DeadLetterPattern = "/events/dead-letter";

    /// <summary>Where the sweeper's PingSource posts (any event: the ping only says "now").</summary>
    public const string SweepPattern = "/events/sweep";

    /// <summary>
    /// Adds what the gateway needs besides the job table and the object store (which the host adds): the intake and
    /// the upload path, the MinIO webhook, the dead-letter sink's <see cref="DeliveryFailureRecorder"/>, the gateway's
    /// options (<c>Gateway</c>), and an HTTP publisher to the broker (<c>Events:Sink</c> or <c>K_SINK</c>).
    /// </summary>
    public static IServiceCollection AddGateway(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.SectionName)
            .Validate(options => options.Problem() is null, $"{GatewayOptions.SectionName}:{nameof(GatewayOptions.MaxUploadBytes)} must be positive.")
            .ValidateOnStart();
        services.AddIntake();
        services.AddMinioNotifications();
        services.AddDeliveryFailureRecorder();
        services.AddHttpEventPublisher();
        return services;
    }

    /// <summary>
    /// Maps the gateway: <c>POST /</c> takes <c>video uploaded</c> events (replying with the job's Enqueue event),
    /// <c>POST /events/minio</c> takes MinIO notifications, <c>POST /events/dead-letter</c> takes a broker's dead letters,
    /// and <c>/api/jobs</c> is the jobs API.
    /// </summary>
    public static IEndpointRouteBuilder MapGateway(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string eventsPattern = "/")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapCloudEvents<JobIntake>(eventsPattern);
        endpoints.MapMinioNotifications<JobIntake>();
        endpoints.MapCloudEvents<DeliveryFailureRecorder>(DeadLetterPattern);
        endpoints.MapPost(SweepPattern, async (StuckJobSweeper sweeper, CancellationToken cancellationToken) =>
            Results.Ok(new SweepResult(await sweeper.SweepAsync(cancellationToken).ConfigureAwait(false))));
        endpoints.MapJobsApi();
        return endpoints;
    }
}
