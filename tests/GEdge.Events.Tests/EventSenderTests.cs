using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using GEdge.Contracts;
using GEdge.Events.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace GEdge.Events.Tests;

/// <summary>
/// Who may send events: with a shared token (gedge serve) or Knative's OIDC sender identity configured, an event endpoint
/// refuses every other sender with 401 before the event reaches its subscriber; this process's own publishes carry the
/// credential. The OIDC issuer here is a real one on loopback: discovery document, JWKS, RS256 tokens.
/// </summary>
public sealed class EventSenderTests : IDisposable
{
    private const string SenderToken = "cluster-sender-token-0123456789abcdef-XYZ";
    private const string Audience = "gedge-infer";
    private static readonly Uri s_source = new("/gedge/test", UriKind.Relative);
    private static readonly JsonEventFormatter s_formatter = new();
    private readonly string _podToken = Path.GetTempFileName();

    public void Dispose() => File.Delete(_podToken);

    [Fact]
    public async Task WithASharedToken_OnlyARequestCarryingIt_ReachesTheSubscriber()
    {
        var subscriber = new RecordingSubscriber(_ => null);
        await using var host = await HttpTestHost.StartAsync(
            app => app.MapCloudEvents("/", subscriber),
            configuration: new Dictionary<string, string?> { ["Events:Senders:Token"] = SenderToken });

        var none = await PostAsync(host.Client, authorization: null);
        var wrong = await PostAsync(host.Client, "Bearer not-the-cluster-token-0123456789abcdef");
        var basic = await PostAsync(host.Client, "Basic " + SenderToken);
        var right = await PostAsync(host.Client, "Bearer " + SenderToken);

        Assert.Equal(
            [HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Accepted],
            new[] { none, wrong, basic, right });
        Assert.Single(subscriber.Received);
        var refusals = host.Logs.Collector.GetSnapshot().Where(e => e.Level == LogLevel.Warning && e.Message.StartsWith("Refused an event on / from 127.0.0.1: ", StringComparison.Ordinal)).Select(e => e.Message).ToList();
        Assert.Equal(
            ["the request carries no bearer token", "the bearer token is not the cluster's", "the request carries no bearer token"],
            refusals.Select(m => m["Refused an event on / from 127.0.0.1: ".Length..]));
    }

    [Fact]
    public async Task WithNoSenderSettings_EventsAreTakenFromAnyone_AndTheProcessSaysSoAtStart()
    {
        var subscriber = new RecordingSubscriber(_ => null);
        await using var host = await HttpTestHost.StartAsync(app => app.MapCloudEvents("/", subscriber));

        Assert.Equal(HttpStatusCode.Accepted, await PostAsync(host.Client, authorization: null));
        Assert.Contains(host.Logs.Collector.GetSnapshot(), e => e.Level == LogLevel.Warning && e.Message.StartsWith(
            "Event endpoints take events from anyone who can reach them: neither Events:Senders:Token nor Events:Senders:Oidc:Issuer is set.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("short", "Events:Senders:Token must be at least 32 characters of a random secret.")]
    [InlineData(SenderToken + "|oidc", "Events:Senders:Token and Events:Senders:Oidc:Issuer are both set; senders are checked one way.")]
    [InlineData("|oidc-no-audience", "Events:Senders:Oidc:Audience must be set with the issuer: the audience the senders' tokens are issued for.")]
    public async Task SettingsThatCannotBeUsed_StopTheHostAtStart_NamingTheSetting(string settings, string problem)
    {
        var parts = settings.Split('|');
        var configuration = new Dictionary<string, string?>();
        if (parts[0].Length > 0)
        {
            configuration["Events:Senders:Token"] = parts[0];
        }

        if (parts.Length > 1)
        {
            configuration["Events:Senders:Oidc:Issuer"] = "https://kubernetes.default.svc.cluster.local";
            configuration["Events:Senders:Oidc:Audience"] = parts[1] == "oidc" ? Audience : null;
        }

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => HttpTestHost.StartAsync(app => app.MapCloudEvents("/", new RecordingSubscriber(_ => null)), configuration: configuration));

        Assert.Contains(problem, error.Failures);
    }

    [Fact]
    public async Task ThePublisherAndTheBrokersDeliveries_CarryTheSharedToken_OrTheTokenFile()
    {
        var subscriber = new RecordingSubscriber(_ => null);
        await using var receiver = await HttpTestHost.StartAsync(
            app => app.MapCloudEvents("/", subscriber),
            configuration: new Dictionary<string, string?> { ["Events:Senders:Token"] = SenderToken });
        await File.WriteAllTextAsync(_podToken, SenderToken + "\n");

        foreach (var senders in new Dictionary<string, string?>[] { new() { ["Events:Senders:Token"] = SenderToken }, new() { ["Events:Senders:SendTokenFile"] = _podToken } })
        {
            senders["Events:Sink"] = receiver.Client.BaseAddress!.ToString();
            await using var services = new ServiceCollection()
                .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(senders).Build())
                .AddLogging()
                .AddHttpEventPublisher()
                .BuildServiceProvider();

            await services.GetRequiredService<IEventPublisher>().PublishAsync(GEdgeEvents.CreateJobStatusChanged(5, JobStatus.Enqueue, 0, s_source));
        }

        Assert.Equal(2, subscriber.Received.Count);
    }

    [Fact]
    public async Task TheTokenFile_IsReadAgainOnceAMinuteOld_SoARotatedTokenIsSent_WithoutAReadPerRequest()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var credential = new EventSenderCredential(Options.Create(new EventSenderOptions { SendTokenFile = _podToken }), time);
        await File.WriteAllTextAsync(_podToken, "first-token\n");
        Assert.Equal("first-token", await credential.GetAsync(CancellationToken.None));

        // The kubelet rotates the projected token: within the minute the one read is still sent, then the new one.
        await File.WriteAllTextAsync(_podToken, "rotated-token\n");
        time.Advance(EventSenderCredential.FileRereadAfter - TimeSpan.FromSeconds(1));
        Assert.Equal("first-token", await credential.GetAsync(CancellationToken.None));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("rotated-token", await credential.GetAsync(CancellationToken.None));
    }

    [Fact]
    public async Task WithKnativesOidcSenderIdentity_OnlyATokenTheIssuerSignedForThisAudience_ReachesTheSubscriber()
    {
        await using var issuer = await OidcIssuer.StartAsync();
        await File.WriteAllTextAsync(_podToken, "the-pods-own-token");
        var subscriber = new RecordingSubscriber(_ => null);
        await using var host = await HttpTestHost.StartAsync(
            app => app.MapCloudEvents("/", subscriber),
            configuration: new Dictionary<string, string?>
            {
                ["Events:Senders:Oidc:Issuer"] = issuer.Url,
                ["Events:Senders:Oidc:Audience"] = Audience,
                ["Events:Senders:Oidc:RequireHttpsMetadata"] = "false",
                ["Events:Senders:Oidc:TokenFile"] = _podToken,
            });
        using var stranger = RSA.Create(2048);
        var now = DateTime.UtcNow;

        var cases = new (string What, string? Token, HttpStatusCode Expected)[]
        {
            ("no token", null, HttpStatusCode.Unauthorized),
            ("another audience", issuer.Token("gedge-postprocess", now.AddMinutes(10)), HttpStatusCode.Unauthorized),
            ("expired", issuer.Token(Audience, now.AddMinutes(-5), issuedAt: now.AddMinutes(-20)), HttpStatusCode.Unauthorized),
            ("another issuer", issuer.Token(Audience, now.AddMinutes(10), issuerName: "https://evil.example"), HttpStatusCode.Unauthorized),
            ("signed by another key", issuer.Token(Audience, now.AddMinutes(10), key: new RsaSecurityKey(stranger) { KeyId = OidcIssuer.KeyId }), HttpStatusCode.Unauthorized),
            ("the API key of a user", "gedge_not-a-jwt", HttpStatusCode.Unauthorized),
            ("the trigger's token", issuer.Token(Audience, now.AddMinutes(10)), HttpStatusCode.Accepted),
        };
        foreach (var (what, token, expected) in cases)
        {
            Assert.True(expected == await PostAsync(host.Client, token is null ? null : "Bearer " + token), what);
        }

        Assert.Single(subscriber.Received);
        // The keys were read as a pod reads them: with its own service-account token.
        Assert.Contains("Bearer the-pods-own-token", issuer.KeyRequestAuthorizations);
    }

    private static async Task<HttpStatusCode> PostAsync(HttpClient client, string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/")
        {
            Content = GEdgeEvents.CreateJobStatusChanged(9, JobStatus.Enqueue, 0, s_source).ToHttpContent(ContentMode.Binary, s_formatter),
        };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>An OIDC issuer as the Kubernetes API server is one: a discovery document, its JWKS, RS256 tokens.</summary>
    private sealed class OidcIssuer : IAsyncDisposable
    {
        public const string KeyId = "k8s-sa-key-1";
        private static readonly string[] s_idToken = ["id_token"];
        private static readonly string[] s_public = ["public"];
        private static readonly string[] s_rs256 = ["RS256"];
        private readonly WebApplication _app;
        private readonly RsaSecurityKey _key;

        private OidcIssuer(WebApplication app, RsaSecurityKey key, string url)
        {
            _app = app;
            _key = key;
            Url = url;
        }

        public string Url { get; }

        public ConcurrentQueue<string> KeyRequestAuthorizations { get; } = new();

        public static async Task<OidcIssuer> StartAsync()
        {
            var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = KeyId };
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            OidcIssuer? issuer = null;
            app.MapGet("/.well-known/openid-configuration", (HttpContext context) =>
            {
                issuer!.KeyRequestAuthorizations.Enqueue(context.Request.Headers.Authorization.ToString());
                return Results.Json(new Dictionary<string, object>
                {
                    ["issuer"] = issuer.Url,
                    ["jwks_uri"] = issuer.Url + "/openid/v1/jwks",
                    ["response_types_supported"] = s_idToken,
                    ["subject_types_supported"] = s_public,
                    ["id_token_signing_alg_values_supported"] = s_rs256,
                });
            });
            app.MapGet("/openid/v1/jwks", (HttpContext context) =>
            {
                issuer!.KeyRequestAuthorizations.Enqueue(context.Request.Headers.Authorization.ToString());
                var parameters = key.Rsa.ExportParameters(includePrivateParameters: false);
                return Results.Json(new
                {
                    keys = new[]
                    {
                        new { kty = "RSA", kid = KeyId, use = "sig", alg = "RS256", n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) },
                    },
                });
            });
            await app.StartAsync();
            issuer = new OidcIssuer(app, key, app.Urls.Single());
            return issuer;
        }

        // What the Broker's filter sends: a service-account token of the Trigger's OIDC identity for the subscriber's audience.
        public string Token(string audience, DateTime expires, DateTime? issuedAt = null, string? issuerName = null, SecurityKey? key = null) =>
            new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = issuerName ?? Url,
                Audience = audience,
                IssuedAt = issuedAt ?? DateTime.UtcNow,
                NotBefore = issuedAt ?? DateTime.UtcNow,
                Expires = expires,
                Claims = new Dictionary<string, object> { ["sub"] = "system:serviceaccount:gedge:oidc-trigger-gedge-infer" },
                SigningCredentials = new SigningCredentials(key ?? _key, SecurityAlgorithms.RsaSha256),
            });

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
