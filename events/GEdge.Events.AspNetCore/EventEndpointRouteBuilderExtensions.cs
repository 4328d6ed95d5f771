using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Events.AspNetCore;

/// <summary>Maps G-Edge's event endpoints: a function's CloudEvents endpoint and the MinIO webhook.</summary>
public static class EventEndpointRouteBuilderExtensions
{
    /// <summary>Where MinIO's webhook target posts by default.</summary>
    public const string MinioNotificationsPattern = "/events/minio";

    /// <summary>
    /// Maps <c>POST <paramref name="pattern"/></c> to <paramref name="subscriber"/>: the request's CloudEvent (binary or
    /// structured mode) is handed over, and its reply comes back as 200 with the event in binary mode, or 202 with no
    /// body when there is none. A malformed event is a 400 with the reason, a failing subscriber a 500; a sender that
    /// <see cref="EventSenderVerification"/> does not take is a 401, before the event is read.
    /// </summary>
    public static RouteHandlerBuilder MapCloudEvents(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern, IEventSubscriber subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        return MapCloudEvents(endpoints, pattern, _ => subscriber);
    }

    /// <summary>As <see cref="MapCloudEvents(IEndpointRouteBuilder, string, IEventSubscriber)"/>, with the subscriber resolved from the request's services.</summary>
    public static RouteHandlerBuilder MapCloudEvents<TSubscriber>(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern)
        where TSubscriber : class, IEventSubscriber =>
        MapCloudEvents(endpoints, pattern, services => services.GetRequiredService<TSubscriber>());

    /// <summary>
    /// Maps <c>POST <paramref name="pattern"/></c> to the MinIO webhook: each new video in a notification goes to
    /// <paramref name="intake"/> as a <c>video uploaded</c> event, and its reply is published to the broker.
    /// Needs <c>services.AddMinioNotifications()</c> and an <see cref="IEventPublisher"/>.
    /// </summary>
    public static RouteHandlerBuilder MapMinioNotifications(this IEndpointRouteBuilder endpoints, IEventSubscriber intake, [StringSyntax("Route")] string pattern = MinioNotificationsPattern)
    {
        ArgumentNullException.ThrowIfNull(intake);
        return MapMinioNotifications(endpoints, pattern, _ => intake);
    }

    /// <summary>As <see cref="MapMinioNotifications(IEndpointRouteBuilder, IEventSubscriber, string)"/>, with the intake resolved from the request's services.</summary>
    public static RouteHandlerBuilder MapMinioNotifications<TIntake>(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern = MinioNotificationsPattern)
        where TIntake : class, IEventSubscriber =>
        MapMinioNotifications(endpoints, pattern, services => services.GetRequiredService<TIntake>());

    private static RouteHandlerBuilder MapCloudEvents(IEndpointRouteBuilder endpoints, string pattern, Func<IServiceProvider, IEventSubscriber> resolveSubscriber)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        return endpoints.MapPost(pattern, (HttpContext context, CancellationToken cancellationToken) =>
                CloudEventExchange.HandleAsync(context, resolveSubscriber(context.RequestServices), cancellationToken))
            .AddEndpointFilter<EventErrorFilter>()
            .RequireEventSender(endpoints.ServiceProvider);
    }

    private static RouteHandlerBuilder MapMinioNotifications(IEndpointRouteBuilder endpoints, string pattern, Func<IServiceProvider, IEventSubscriber> resolveIntake)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        // Resolving now fails at startup, not on MinIO's first notification, when the registrations are missing.
        var handler = endpoints.ServiceProvider.GetService<MinioNotificationHandler>()
            ?? throw new InvalidOperationException("Call services.AddMinioNotifications() before MapMinioNotifications.");
        return endpoints.MapPost(pattern, (HttpContext context, CancellationToken cancellationToken) =>
                handler.HandleAsync(context, resolveIntake(context.RequestServices), cancellationToken))
            .AddEndpointFilter<EventErrorFilter>();
    }
}
