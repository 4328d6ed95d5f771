using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.OpenApi;

namespace GEdge.Gateway;

/// <summary>What <c>POST /api/session</c> takes: the API key to sign in with.</summary>
/// <param name="Key">The key, as <c>gedge api-key new</c> printed it.</param>
public sealed record SessionRequest(string? Key);

/// <summary>Who is signed in.</summary>
/// <param name="User">The user the key belongs to.</param>
public sealed record SessionView(string User);

/// <summary>
/// The dashboard's sign-in: a browser page cannot keep a secret from its scripts' reach except in an HttpOnly cookie, so it
/// trades the key here once for a session (<see cref="DashboardSessions"/>) whose token the cookie carries; the key
/// itself never goes into the browser's storage.
/// </summary>
public static class SessionApi
{
    /// <summary>Where the session lives.</summary>
    public const string Path = "/api/session";

    /// <summary>
    /// Maps <c>POST /api/session</c> (a key in, the cookie out), <c>GET /api/session</c> (who is signed in) and
    /// <c>DELETE /api/session</c> (sign out: the session ended and the cookie cleared).
    /// </summary>
    public static RouteGroupBuilder MapSessionApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var session = endpoints.MapGroup(Path).WithTags("Session");
        session.AddEndpointFilter<ApiErrorFilter>();
        session.MapPost(string.Empty, SignInAsync).WithName("SignIn")
            .WithMetadata(new DescribedRequestBody(async (context, cancellationToken) => new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal)
                {
                    ["application/json"] = new() { Schema = await context.GetOrCreateSchemaAsync(typeof(SessionRequest), cancellationToken: cancellationToken).ConfigureAwait(false) },
                },
            }))
            .WithSummary("Signs in with an API key: opens a session and sets its HttpOnly gedge_session cookie, which the dashboard's requests carry; it expires with the session (Gateway:SessionLifetime, 12 h).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .AllowAnonymous();
        session.MapGet(string.Empty, Current).WithName("GetSession")
            .WithSummary("The signed-in user.")
            .RequireAuthorization(ApiKeyAuthentication.Policy);
        session.MapDelete(string.Empty, SignOutAsync).WithName("SignOut")
            .WithSummary("Signs out: ends the session and clears the cookie.")
            .AllowAnonymous();
        return session;
    }

    // The body is read here rather than bound, so that one that is not JSON is answered as a problem like every mistake.
    private static async Task<Results<Ok<SessionView>, ProblemHttpResult>> SignInAsync(
        HttpContext context, ApiKeyDirectory keys, DashboardSessions sessions, CancellationToken cancellationToken)
    {
        SessionRequest? request;
        try
        {
            request = await context.Request.ReadFromJsonAsync(GatewayJsonContext.Default.SessionRequest, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return GatewayProblems.Problem(StatusCodes.Status400BadRequest, $"Send the key as JSON, {{\"key\":\"...\"}}: {e.Message}");
        }

        if (request?.Key is not { Length: > 0 } key)
        {
            return GatewayProblems.Problem(StatusCodes.Status400BadRequest, "Send the key as {\"key\":\"...\"}.");
        }

        if (keys.UserOf(key) is not { } user)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return GatewayProblems.Unauthorized("The API key is not valid.");
        }

        var token = await sessions.OpenAsync(key).ConfigureAwait(false);
        context.Response.Cookies.Append(ApiKeyAuthentication.SessionCookieName, token, ApiKeyAuthentication.CookieOptions(context.Request, sessions.Lifetime));
        return TypedResults.Ok(new SessionView(user));
    }

    private static Ok<SessionView> Current(HttpContext context) =>
        TypedResults.Ok(new SessionView(ApiKeyAuthentication.UserOf(context.User)));

    private static async Task<NoContent> SignOutAsync(HttpContext context, DashboardSessions sessions)
    {
        // The session ends on the server, not only in this browser: a copy of the cookie is worth nothing after this.
        if (ApiKeyAuthentication.SessionOf(context.Request) is { } token)
        {
            await sessions.CloseAsync(token).ConfigureAwait(false);
        }

        context.Response.Cookies.Delete(ApiKeyAuthentication.SessionCookieName, ApiKeyAuthentication.CookieOptions(context.Request));
        return TypedResults.NoContent();
    }
}
