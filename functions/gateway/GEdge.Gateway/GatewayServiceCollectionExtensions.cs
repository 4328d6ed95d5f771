using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;
using GEdge.Artifacts;
using GEdge.Events.AspNetCore;
using GEdge.Hosting;
using GEdge.Jobs;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GEdge.Gateway;

/// <summary>Registers and maps the gateway function.</summary>
public static class GatewayServiceCollectionExtensions
{
    /// <summary>
    /// Adds what the gateway needs besides the job table and the object store (which the host adds): the intake and
    /// the upload path, the MinIO webhook, the dead-letter sink's <see cref="DeliveryFailureRecorder"/>, the gateway's
    /// options (<c>Gateway</c>, API keys included), an HTTP publisher to the broker (<c>Events:Sink</c> or <c>K_SINK</c>),
    /// and for the HTTP API: API key authentication, JSON with enums as names, problem details and the OpenAPI document.
    /// </summary>
    public static IServiceCollection AddGateway(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidation>());
        services.AddIntake();
        services.AddJobIntermediates();
        services.AddMinioNotifications();
        services.AddOptions<MinioWebhookOptions>().Configure<IOptions<BucketOptions>>((webhook, buckets) => webhook.UploadsBucket = buckets.Value.Uploads);
        services.AddDeliveryFailureRecorder();
        services.AddHttpEventPublisher();
        services.TryAddSingleton<JobRemoval>();
        services.TryAddSingleton<ApiKeyDirectory>();
        services.TryAddSingleton<DashboardSessions>();
        services.TryAddSingleton<GatewayHttpPipeline>();
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthentication.Scheme, displayName: "API key", configureOptions: null);
        services.AddAuthorization();
        services.AddRouting();
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        services.AddOpenApi(GatewayOpenApi.Configure);
        services.AddPeers();
        return services;
    }

    // Spill-over to peer edges (Peers section): the worker runs in every gateway and does nothing without peers.
    private static void AddPeers(this IServiceCollection services)
    {
        services.AddOptions<Peers.PeerOptions>().BindConfiguration(Peers.PeerOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<Peers.PeerOptions>, PeerOptionsValidation>());
        // An upload of a segment and the polls that follow it each have their own bounds (GatewayClient); this one only
        // stops a peer that takes a connection and never answers.
        services.AddHttpClient(Peers.SegmentSpiller.HttpClientName, client => client.Timeout = TimeSpan.FromMinutes(10));
        services.AddHostedService<Peers.SegmentSpiller>();
    }

    private sealed class PeerOptionsValidation : IValidateOptions<Peers.PeerOptions>
    {
        public ValidateOptionsResult Validate(string? name, Peers.PeerOptions options) =>
            options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }

    /// <summary>
    /// Maps the gateway: <c>POST /</c> takes <c>video uploaded</c> events (replying with the job's Enqueue event),
    /// <c>POST /events/minio</c> takes MinIO notifications (with MinIO's token), <c>POST /events/dead-letter</c> takes a broker's
    /// dead letters, <c>POST /events/sweep</c> the sweeper's ping (these three and <c>POST /</c> only from the cluster's
    /// senders, <see cref="EventSenderVerification"/>, and only where <see cref="GatewayOptions.EventEndpoints"/>),
    /// <see cref="MapGatewayApi"/> maps the HTTP API, and <see cref="Dashboard.MapDashboard"/> the dashboard (<c>GET /</c>).
    /// </summary>
    public static IEndpointRouteBuilder MapGateway(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string eventsPattern = "/")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapMinioNotifications<JobIntake>("/" + FunctionRoutes.MinioNotifications);
        if (endpoints.ServiceProvider.GetRequiredService<IOptions<GatewayOptions>>().Value.EventEndpoints)
        {
            endpoints.MapCloudEvents<JobIntake>(eventsPattern);
            endpoints.MapCloudEvents<DeliveryFailureRecorder>("/" + FunctionRoutes.DeadLetters);
            // Any event: the ping only says "now".
            endpoints.MapPost("/" + FunctionRoutes.Sweep, async (StuckJobSweeper sweeper, CancellationToken cancellationToken) =>
                    Results.Ok(new SweepResult(await sweeper.SweepAsync(cancellationToken).ConfigureAwait(false))))
                .RequireEventSender(endpoints.ServiceProvider);
        }

        endpoints.MapGatewayApi();
        endpoints.MapDashboard();
        return endpoints;
    }

    /// <summary>
    /// Maps the HTTP API under <c>/api</c>: the session (<see cref="SessionApi"/>), the jobs (<see cref="JobsApi"/>), the
    /// pipeline (<see cref="PipelineApi"/>), the cluster's activity (<see cref="ClusterApi"/>) and the OpenAPI document (<see cref="GatewayOpenApi.Path"/>). Endpoints need the authentication and authorization
    /// middleware in front of them (a WebApplication adds both; <see cref="GatewayHttpPipeline"/> has them).
    /// </summary>
    public static IEndpointRouteBuilder MapGatewayApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapSessionApi();
        endpoints.MapJobsApi();
        endpoints.MapPipelineApi();
        endpoints.MapClusterApi();
        endpoints.MapCapacityApi();
        endpoints.MapOpenApi(GatewayOpenApi.Path);
        return endpoints;
    }
}

/// <summary>Refuses invalid <see cref="GatewayOptions"/> at start, naming the setting.</summary>
internal sealed class GatewayOptionsValidation : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options) =>
        options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
