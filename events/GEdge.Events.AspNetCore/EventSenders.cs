using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace GEdge.Events.AspNetCore;

/// <summary>
/// Who may send G-Edge events (a Trigger's delivery, a dead letter, the sweeper's ping, a publish to the local broker),
/// bound from <c>Events:Senders</c>. Exactly one way, or none:
/// <list type="bullet">
/// <item><see cref="Token"/>: a secret every sender of the cluster carries as <c>Authorization: Bearer</c>. <c>gedge
/// serve</c> makes one per cluster and gives it to its broker, its functions and its sweeper ping.</item>
/// <item><see cref="Oidc"/>: Knative Eventing's sender identity (the <c>authentication-oidc</c> feature): the Broker's
/// deliveries, PingSources and dead letters carry an OIDC token that Kubernetes issued for the receiver's audience
/// (the <c>audience</c> a Trigger's subscriber, a sink or a dead-letter sink declares); the receiver checks its signature
/// against the issuer's published keys, its issuer, audience and lifetime.</item>
/// <item>Neither: events are taken from whoever can reach the endpoint, which is then only safe where nothing outside
/// the cluster can (a <c>cluster-local</c> Knative Service); the process says so in its log at start.</item>
/// </list>
/// </summary>
public sealed record EventSenderOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "Events:Senders";

    /// <summary>The shared secret senders carry; null for none.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// A file holding the token this process sends with the events it publishes, read again once a minute (the kubelet
    /// rotates it; <see cref="EventSenderCredential"/>): in Knative with sender identity, a projected service-account token for the Broker's audience. With
    /// <see cref="Token"/> set, that is sent instead.
    /// </summary>
    public string? SendTokenFile { get; set; }

    /// <summary>The OIDC issuer whose tokens are taken; its <c>Issuer</c> unset for none.</summary>
    public OidcSenderOptions Oidc { get; set; } = new();

    /// <summary>What is wrong with the settings, naming the setting; null when they can be used.</summary>
    public string? Problem() =>
        (Token, Oidc.Issuer, Oidc.Audience) switch
        {
            (_, _, _) when Token is not null && SendTokenFile is not null => $"{SectionName}:{nameof(Token)} and {SectionName}:{nameof(SendTokenFile)} are both set; the token is what this process sends.",
            ({ }, { }, _) => $"{SectionName}:{nameof(Token)} and {SectionName}:{nameof(Oidc)}:{nameof(OidcSenderOptions.Issuer)} are both set; senders are checked one way.",
            ({ Length: < 32 }, _, _) => $"{SectionName}:{nameof(Token)} must be at least 32 characters of a random secret.",
            (_, { }, null or "") => $"{SectionName}:{nameof(Oidc)}:{nameof(OidcSenderOptions.Audience)} must be set with the issuer: the audience the senders' tokens are issued for.",
            (_, { } issuer, _) when !Uri.TryCreate(issuer, UriKind.Absolute, out _) => $"{SectionName}:{nameof(Oidc)}:{nameof(OidcSenderOptions.Issuer)} must be an absolute URL, not '{issuer}'.",
            _ => null,
        };
}

/// <summary>Knative Eventing's OIDC sender identity, as the receiver checks it.</summary>
public sealed record OidcSenderOptions
{
    /// <summary>
    /// The issuer of the senders' tokens: the cluster's service-account issuer (<c>kubectl get --raw
    /// /.well-known/openid-configuration</c> names it; commonly <c>https://kubernetes.default.svc.cluster.local</c>).
    /// Its keys are read from the discovery document under it.
    /// </summary>
    public string? Issuer { get; set; }

    /// <summary>The audience this receiver's tokens are issued for: the <c>audience</c> its Trigger, sink or dead-letter sink declares.</summary>
    public string? Audience { get; set; }

    /// <summary>Where the discovery document is, when not under <see cref="Issuer"/> (an API server reached at another name).</summary>
    public Uri? MetadataAddress { get; set; }

    /// <summary>The CA that signed the issuer's TLS certificate (the pod's service-account CA), trusted for reading its keys; used when the file exists.</summary>
    public string CaFile { get; set; } = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

    /// <summary>
    /// The pod's own service-account token, sent when reading the issuer's keys: Kubernetes serves them to authenticated
    /// service accounts (the <c>system:service-account-issuer-discovery</c> role); used when the file exists.
    /// </summary>
    public string TokenFile { get; set; } = "/var/run/secrets/kubernetes.io/serviceaccount/token";

    /// <summary>Whether the discovery document must be fetched over HTTPS (only a test's issuer on loopback does without).</summary>
    public bool RequireHttpsMetadata { get; set; } = true;
}

/// <summary>
/// Checks an event request's sender as <see cref="EventSenderOptions"/> say: every event endpoint asks it first
/// (<see cref="EventEndpointRouteBuilderExtensions.MapCloudEvents(Microsoft.AspNetCore.Routing.IEndpointRouteBuilder, string, IEventSubscriber)"/>,
/// the sweeper's endpoint, the Functions apps' event functions).
/// </summary>
public sealed partial class EventSenderVerification
{
    /// <summary>The authentication scheme of the shared token.</summary>
    public const string TokenScheme = "EventSenderToken";

    /// <summary>The authentication scheme of Knative's OIDC sender identity.</summary>
    public const string OidcScheme = "EventSenderOidc";

    private readonly ILogger<EventSenderVerification> _logger;

    /// <summary>Reads the settings once; logs a warning when events are taken from anyone.</summary>
    public EventSenderVerification(IOptions<EventSenderOptions> options, ILogger<EventSenderVerification> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        var senders = options.Value;
        Scheme = senders.Oidc.Issuer is not null ? OidcScheme : senders.Token is not null ? TokenScheme : null;
        if (Scheme is null)
        {
            LogOpen(logger, EventSenderOptions.SectionName);
        }
    }

    /// <summary>The scheme that checks senders; null when events are taken from anyone.</summary>
    public string? Scheme { get; }

    /// <summary>Null when the request's sender may send events; otherwise the 401 to answer, with the reason logged.</summary>
    public async Task<IResult?> RefuseAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (Scheme is null)
        {
            return null;
        }

        var result = await context.AuthenticateAsync(Scheme).ConfigureAwait(false);
        if (result.Succeeded)
        {
            return null;
        }

        var reason = result.Failure?.Message ?? "the request carries no bearer token";
        LogRefused(_logger, context.Request.Path, context.Connection.RemoteIpAddress?.ToString(), reason);
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return TypedResults.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Events are taken only from the cluster's own senders.",
            detail: "The request carries no valid sender credential; the reason is logged.");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event endpoints take events from anyone who can reach them: neither {Section}:Token nor {Section}:Oidc:Issuer is set. Keep them inside the cluster (a cluster-local Knative Service).")]
    private static partial void LogOpen(ILogger logger, string section);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused an event on {Path} from {Remote}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string path, string? remote, string reason);
}

/// <summary>A bearer token compared in constant time; the one place G-Edge checks a shared secret (events, MinIO's webhook).</summary>
public static class BearerToken
{
    /// <summary>The bearer token of a request's <c>Authorization</c> header, or null when it has none.</summary>
    public static string? Of(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return AuthenticationHeaderValue.TryParse(request.Headers.Authorization.ToString(), out var header)
            && header.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase)
            && header.Parameter is { Length: > 0 } token
            ? token.Trim()
            : null;
    }

    /// <summary>Whether <paramref name="presented"/> is <paramref name="expected"/>, in time independent of both (hashes are compared).</summary>
    public static bool Matches(string presented, string expected)
    {
        ArgumentNullException.ThrowIfNull(presented);
        ArgumentNullException.ThrowIfNull(expected);
        Span<byte> presentedHash = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> expectedHash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), presentedHash);
        SHA256.HashData(Encoding.UTF8.GetBytes(expected), expectedHash);
        return CryptographicOperations.FixedTimeEquals(presentedHash, expectedHash);
    }
}

/// <summary>
/// This process's sender credential: <see cref="EventSenderOptions.Token"/>, or the token in
/// <see cref="EventSenderOptions.SendTokenFile"/>, read again once it is a minute old. The kubelet rotates a projected
/// token before it expires, so the file must be read again, but not per request: client-go reads its token file at most
/// once a minute for the same reason (kubernetes/client-go transport/token_source.go, NewCachedFileTokenSource: "half of
/// the duration between when the kubelet refreshes a projected service account token and when the original token
/// expires").
/// </summary>
public sealed class EventSenderCredential(IOptions<EventSenderOptions> senders, TimeProvider time)
{
    /// <summary>How long a token read from the file is sent before the file is read again.</summary>
    public static readonly TimeSpan FileRereadAfter = TimeSpan.FromMinutes(1);

    private volatile TokenRead? _read;

    /// <summary>The token to send; null when this process sends none.</summary>
    public async ValueTask<string?> GetAsync(CancellationToken cancellationToken)
    {
        var options = senders.Value;
        if (options.Token is not null || options.SendTokenFile is not { } file)
        {
            return options.Token;
        }

        var now = time.GetUtcNow();
        if (_read is { } read && now - read.At < FileRereadAfter)
        {
            return read.Token;
        }

        var token = (await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false)).Trim();
        _read = new TokenRead(token, now);
        return token;
    }

    private sealed record TokenRead(string Token, DateTimeOffset At);
}

/// <summary>
/// Adds this process's sender credential (<see cref="EventSenderCredential"/>) to the event requests it makes
/// (publishing to the broker, the broker's deliveries).
/// </summary>
public sealed class EventSenderCredentialHandler(EventSenderCredential credential) : DelegatingHandler
{
    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Headers.Authorization is null && await credential.GetAsync(cancellationToken).ConfigureAwait(false) is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The endpoint filter that asks <see cref="EventSenderVerification"/> before an event endpoint runs.</summary>
public static class EventSenderEndpointExtensions
{
    /// <summary>
    /// Refuses requests whose sender <see cref="EventSenderVerification"/> does not take, with 401, before the endpoint
    /// runs. Resolves the verification now, so a host without <c>AddEventSenders()</c> fails at start.
    /// </summary>
    public static TBuilder RequireEventSender<TBuilder>(this TBuilder builder, IServiceProvider services)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(services);
        var verification = services.GetService<EventSenderVerification>()
            ?? throw new InvalidOperationException("Call services.AddEventSenders() before mapping event endpoints: they take events only from the senders it allows.");
        return builder.AddEndpointFilter(async (context, next) =>
            await verification.RefuseAsync(context.HttpContext).ConfigureAwait(false) ?? await next(context).ConfigureAwait(false));
    }
}

/// <summary>Registers <see cref="EventSenderVerification"/> and its two schemes.</summary>
public static class EventSenderServiceCollectionExtensions
{
    /// <summary>
    /// Adds who may send events (<c>Events:Senders</c>, checked at start): the shared-token scheme, and ASP.NET Core's JWT
    /// bearer handler for Knative's OIDC tokens, reading the issuer's keys from its discovery document (trusting the
    /// service-account CA and sending the pod's token when those files exist).
    /// </summary>
    public static IServiceCollection AddEventSenders(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<EventSenderOptions>().BindConfiguration(EventSenderOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EventSenderOptions>, EventSenderOptionsValidator>());
        services.TryAddSingleton<EventSenderVerification>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<EventSenderCredential>();
        services.TryAddTransient<EventSenderCredentialHandler>();
        if (services.Any(d => d.ServiceType == typeof(EventSenderMarker)))
        {
            return services;
        }

        services.AddSingleton<EventSenderMarker>();
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, SharedTokenHandler>(EventSenderVerification.TokenScheme, displayName: null, configureOptions: null)
            .AddJwtBearer(EventSenderVerification.OidcScheme, _ => { });
        services.AddOptions<JwtBearerOptions>(EventSenderVerification.OidcScheme)
            .Configure<IOptions<EventSenderOptions>>((jwt, senders) => ConfigureOidc(jwt, senders.Value.Oidc));
        return services;
    }

    private static void ConfigureOidc(JwtBearerOptions jwt, OidcSenderOptions oidc)
    {
        if (oidc.Issuer is null)
        {
            return;
        }

        jwt.Authority = oidc.Issuer;
        jwt.Audience = oidc.Audience;
        if (oidc.MetadataAddress is { } metadata)
        {
            jwt.MetadataAddress = metadata.ToString();
        }

        jwt.RequireHttpsMetadata = oidc.RequireHttpsMetadata;
        jwt.MapInboundClaims = false;
        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = oidc.Issuer,
            ValidAudience = oidc.Audience,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            // Kubernetes' clocks and ours agree to well within this.
            ClockSkew = TimeSpan.FromSeconds(30),
        };
        jwt.BackchannelHttpHandler = new KubernetesIssuerHandler(oidc);
    }

    // Registered once, so a second AddEventSenders adds no scheme twice.
    private sealed class EventSenderMarker;

    private sealed class EventSenderOptionsValidator : IValidateOptions<EventSenderOptions>
    {
        public ValidateOptionsResult Validate(string? name, EventSenderOptions options) =>
            options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }
}

/// <summary>The shared-token scheme: the request's bearer token must be <see cref="EventSenderOptions.Token"/>.</summary>
internal sealed class SharedTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IOptions<EventSenderOptions> senders)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (senders.Value.Token is not { } expected)
        {
            return Task.FromResult(AuthenticateResult.Fail("no sender token is configured"));
        }

        if (BearerToken.Of(Request) is not { } presented)
        {
            return Task.FromResult(AuthenticateResult.Fail("the request carries no bearer token"));
        }

        if (!BearerToken.Matches(presented, expected))
        {
            return Task.FromResult(AuthenticateResult.Fail("the bearer token is not the cluster's"));
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "cluster")], Scheme.Name);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
    }
}

/// <summary>
/// How a pod reads its cluster's OIDC keys: the API server's certificate is signed by the cluster's own CA (the pod's
/// <c>ca.crt</c>), and the discovery endpoints want an authenticated service account (the pod's token, read per request,
/// since the kubelet rotates it). Without those files (outside a pod, a test's issuer) the defaults apply.
/// </summary>
internal sealed class KubernetesIssuerHandler : DelegatingHandler
{
    private readonly string _tokenFile;

    public KubernetesIssuerHandler(OidcSenderOptions oidc)
    {
        _tokenFile = oidc.TokenFile;
        var handler = new SocketsHttpHandler();
        if (File.Exists(oidc.CaFile))
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(oidc.CaFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (errors == System.Net.Security.SslPolicyErrors.None)
                {
                    return true;
                }

                if (certificate is null || (errors & ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            };
        }

        InnerHandler = handler;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (File.Exists(_tokenFile))
        {
            var token = (await File.ReadAllTextAsync(_tokenFile, cancellationToken).ConfigureAwait(false)).Trim();
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
