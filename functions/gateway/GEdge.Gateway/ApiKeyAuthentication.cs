using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using GEdge.Events.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Gateway;

/// <summary>
/// The gateway's authentication scheme: a request carries an API key in <c>Authorization: Bearer KEY</c> or
/// <c>X-Api-Key: KEY</c>, or the <c>gedge_session</c> cookie of a session <c>POST /api/session</c> opened for the dashboard.
/// </summary>
public static class ApiKeyAuthentication
{
    /// <summary>The scheme's name.</summary>
    public const string Scheme = "ApiKey";

    /// <summary>The header that carries a key for clients that keep <c>Authorization</c> for something else.</summary>
    public const string HeaderName = "X-Api-Key";

    /// <summary>
    /// The cookie that carries the dashboard's session token (<see cref="DashboardSessions"/>; HttpOnly, so the page's
    /// scripts never read it back). The API key itself is never put in a cookie.
    /// </summary>
    public const string SessionCookieName = "gedge_session";

    /// <summary>The policy the API's endpoints require: a user authenticated by an API key.</summary>
    public static AuthorizationPolicy Policy { get; } =
        new AuthorizationPolicyBuilder(Scheme).RequireAuthenticatedUser().Build();

    /// <summary>
    /// The cookie settings for the dashboard's session: only this site's own requests, over HTTPS when the site is, and
    /// gone when the session ends (<paramref name="lifetime"/>; null when clearing it).
    /// </summary>
    public static CookieOptions CookieOptions(HttpRequest request, TimeSpan? lifetime = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/", Secure = request.IsHttps, IsEssential = true, MaxAge = lifetime };
    }

    /// <summary>The session token a request's cookie carries, or null.</summary>
    internal static string? SessionOf(HttpRequest request) =>
        request.Cookies.TryGetValue(SessionCookieName, out var cookie) && cookie.Length > 0 ? cookie : null;

    /// <summary>The key a request's headers carry, or null when they carry none.</summary>
    internal static string? KeyOf(HttpRequest request) =>
        BearerToken.Of(request) ?? (request.Headers[HeaderName] is [{ Length: > 0 } header] ? header : null);

    /// <summary>The user of a request the scheme authenticated.</summary>
    internal static string UserOf(ClaimsPrincipal principal) =>
        principal.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name }
            ? name
            : throw new InvalidOperationException("The endpoint was reached without an authenticated user; it must require the API key policy.");
}

/// <summary>The configured keys, by hash: finds whose key a request carries.</summary>
public sealed class ApiKeyDirectory(IOptionsMonitor<GatewayOptions> options)
{
    /// <summary>
    /// The user whose key <paramref name="key"/> is, or null. Compares the key's hash with every configured hash in constant
    /// time, so the time taken tells nothing about how close a guess came.
    /// </summary>
    public string? UserOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Span<byte> given = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key), given);
        return UserOf(given);
    }

    /// <summary>The user whose key has the hash <paramref name="keyHash"/> (as <see cref="ApiKeys.Hash"/> makes it), if that key is still configured.</summary>
    public string? UserOfHash(string keyHash)
    {
        ArgumentNullException.ThrowIfNull(keyHash);
        if (!ApiKeys.IsHash(keyHash))
        {
            return null;
        }

        Span<byte> given = stackalloc byte[SHA256.HashSizeInBytes];
        Convert.FromHexString(keyHash, given, out _, out _);
        return UserOf(given);
    }

    private string? UserOf(ReadOnlySpan<byte> given)
    {
        Span<byte> configured = stackalloc byte[SHA256.HashSizeInBytes];
        string? user = null;
        foreach (var entry in options.CurrentValue.ApiKeys)
        {
            // Validated at start (GatewayOptions.Problem), so every hash is 64 hex digits.
            Convert.FromHexString(entry.Sha256, configured, out _, out _);
            if (CryptographicOperations.FixedTimeEquals(given, configured))
            {
                user ??= entry.User;
            }
        }

        return user;
    }
}

/// <summary>
/// Authenticates a request by its API key (<see cref="ApiKeyAuthentication.KeyOf"/>). Its challenge is a 401 problem with
/// <c>WWW-Authenticate: Bearer</c>, whether the key was missing or wrong.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyDirectory directory, DashboardSessions sessions)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const string WrongKey = "The API key is not valid.";
    private const string EndedSession = "The session has ended (it expired, or was signed out): sign in again.";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? user;
        if (ApiKeyAuthentication.KeyOf(Request) is { } key)
        {
            if ((user = directory.UserOf(key)) is null)
            {
                return AuthenticateResult.Fail(WrongKey);
            }
        }
        else if (ApiKeyAuthentication.SessionOf(Request) is { } session)
        {
            if ((user = await sessions.UserOfAsync(session).ConfigureAwait(false)) is null)
            {
                return AuthenticateResult.Fail(EndedSession);
            }
        }
        else
        {
            return AuthenticateResult.NoResult();
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user)], Scheme.Name, ClaimTypes.Name, ClaimTypes.Role);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync().ConfigureAwait(false);
        Response.Headers.WWWAuthenticate = "Bearer";
        var detail = result.Failure is not null
            ? result.Failure.Message
            : $"Send an API key as 'Authorization: Bearer KEY' or '{ApiKeyAuthentication.HeaderName}: KEY', or sign in with POST {SessionApi.Path}.";
        await GatewayProblems.Unauthorized(detail).ExecuteAsync(Context).ConfigureAwait(false);
    }
}
