using System.Diagnostics.CodeAnalysis;
using CloudNative.CloudEvents;
using GEdge.Events.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Events.Broker;

/// <summary>Registers and maps the local broker.</summary>
public static class BrokerServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="HttpEventBroker"/> (also as the process's <see cref="IEventPublisher"/>), with its options from the
    /// <c>Broker</c> section and its Broker and Triggers read from the Knative manifests.
    /// </summary>
    public static IServiceCollection AddEventBroker(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<BrokerOptions>().BindConfiguration(BrokerOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BrokerOptions>, BrokerOptionsValidator>());
        // The broker's deliveries carry the cluster's sender credential, and its ingress takes events only from senders
        // that carry it (EventSenders).
        services.AddEventSenders();
        services.AddHttpClient(HttpEventBroker.HttpClientName)
            .ConfigureHttpClient((provider, client) => client.Timeout = provider.GetRequiredService<IOptions<BrokerOptions>>().Value.DeliveryTimeout)
            .AddHttpMessageHandler<EventSenderCredentialHandler>();
        services.TryAddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<BrokerOptions>>().Value;
            return KnativeEventing.Load(options.ManifestsDirectory ?? KnativeEventing.FindDirectory());
        });
        services.TryAddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<BrokerOptions>>().Value;
            return new HttpEventBroker(
                BrokerRoute.Resolve(provider.GetRequiredService<KnativeEventing>(), options),
                options,
                provider.GetRequiredService<IHttpClientFactory>(),
                provider.GetRequiredService<ILogger<HttpEventBroker>>());
        });
        services.TryAddSingleton<IEventPublisher>(provider => provider.GetRequiredService<HttpEventBroker>());
        return services;
    }

    /// <summary>
    /// Maps the broker's ingress, <c>POST <paramref name="pattern"/></c>: an event in binary or structured mode is
    /// accepted with 202 and routed; a malformed one is refused with 400. Resolves the broker now, so manifests that
    /// cannot be used stop the host at start.
    /// </summary>
    public static RouteHandlerBuilder MapEventBroker(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern = "/")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var broker = endpoints.ServiceProvider.GetService<HttpEventBroker>()
            ?? throw new InvalidOperationException("Call services.AddEventBroker() before MapEventBroker.");
        MapEndpointsApi(endpoints, broker);
        return endpoints.MapCloudEvents(pattern, new BrokerIngress(broker));
    }

    /// <summary>The path of the broker's Services' load and pods (<c>GET</c>) and of one autoscaled Service's pods (<c>PUT .../NAME</c>).</summary>
    public const string EndpointsPath = "/endpoints";

    // What an autoscaler reads and writes, as Knative's autoscaler scrapes the activator and a revision's Endpoints tell the
    // activator where its pods are: GET the load of every Service, PUT the ready pods of an autoscaled one (a JSON array of
    // addresses). Only for the cluster's own senders, as the ingress is.
    private static void MapEndpointsApi(IEndpointRouteBuilder endpoints, HttpEventBroker broker)
    {
        endpoints.MapGet(EndpointsPath, () => Results.Ok(broker.Load()))
            .RequireEventSender(endpoints.ServiceProvider);
        endpoints.MapPut(EndpointsPath + "/{service}", (string service, Uri[] pods) =>
            {
                try
                {
                    broker.SetPods(service, pods);
                    return Results.NoContent();
                }
                catch (ArgumentException e)
                {
                    return Results.Problem(e.Message, statusCode: StatusCodes.Status400BadRequest);
                }
            })
            .RequireEventSender(endpoints.ServiceProvider);
    }

    /// <summary>The ingress as a subscriber: every event it is handed goes into the broker, and nothing is replied (202).</summary>
    private sealed class BrokerIngress(HttpEventBroker broker) : IEventSubscriber
    {
        public Task<CloudEvent?> HandleAsync(CloudEvent cloudEvent, CancellationToken cancellationToken)
        {
            broker.Publish(cloudEvent);
            return Task.FromResult<CloudEvent?>(null);
        }
    }

    private sealed class BrokerOptionsValidator : IValidateOptions<BrokerOptions>
    {
        public ValidateOptionsResult Validate(string? name, BrokerOptions options) =>
            options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }
}
