using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GEdge.Events.AspNetCore;

/// <summary>Registers the HTTP side of G-Edge's events: the MinIO webhook and the broker publisher.</summary>
public static class EventHttpServiceCollectionExtensions
{
    /// <summary>
    /// Adds what <c>MapMinioNotifications</c> needs: its options (<c>Gateway:MinioWebhook</c>) and handler. The host also
    /// registers an <see cref="IEventPublisher"/> for the intake's replies: <see cref="AddHttpEventPublisher"/>
    /// in a cluster, the in-process router when embedded.
    /// </summary>
    public static IServiceCollection AddMinioNotifications(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<MinioWebhookOptions>().BindConfiguration(MinioWebhookOptions.SectionName);
        services.TryAddSingleton<MinioNotificationHandler>();
        return services;
    }

    /// <summary>
    /// Adds <see cref="HttpEventPublisher"/> as the <see cref="IEventPublisher"/>, posting to
    /// <c>Events:Sink</c> or else to the <c>K_SINK</c> address a Knative SinkBinding injects.
    /// </summary>
    public static IServiceCollection AddHttpEventPublisher(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<EventSinkOptions>()
            .BindConfiguration(EventSinkOptions.SectionName)
            .Configure<IConfiguration>((options, configuration) =>
            {
                if (options.Sink is null && configuration[EventSinkOptions.KnativeSinkVariable] is { Length: > 0 } sink)
                {
                    options.Sink = new Uri(sink, UriKind.Absolute);
                }
            })
            .Validate(options => options.Sink is null || options.Sink.IsAbsoluteUri, $"{EventSinkOptions.SectionName}:{nameof(EventSinkOptions.Sink)} must be an absolute URL.");
        services.AddEventSenders();
        services.AddHttpClient(HttpEventPublisher.HttpClientName).AddHttpMessageHandler<EventSenderCredentialHandler>();
        // A singleton over IHttpClientFactory, not a typed client: the MinIO handler is a singleton too, and a typed
        // client captured there would keep one HttpClient (and its DNS answer) forever.
        services.TryAddSingleton<IEventPublisher, HttpEventPublisher>();
        return services;
    }
}
