using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GEdge.Gateway;

namespace GEdge.Gateway.Tests;

/// <summary>API keys: who gets in, how a key may be sent, the dashboard's session cookie, and what a refusal looks like.</summary>
public sealed class AuthenticationTests(GatewayServer server) : IClassFixture<GatewayServer>
{
    public static TheoryData<string, string> ApiEndpoints => new()
    {
        { "POST", "api/jobs?name=clip.mp4" },
        { "GET", "api/jobs" },
        { "GET", "api/jobs/1" },
        { "GET", "api/jobs/1/video" },
        { "GET", "api/jobs/1/detections" },
        { "GET", "api/jobs/1/summary" },
        { "GET", "api/jobs/1/timeline" },
        { "DELETE", "api/jobs/1" },
        { "GET", "api/cluster" },
        { "GET", "api/capacity" },
        { "GET", "api/session" },
    };

    [Theory]
    [MemberData(nameof(ApiEndpoints))]
    public async Task EveryEndpoint_WithoutAKey_Answers401Problem_WithABearerChallenge(string method, string path)
    {
        using var client = server.ClientWith(null);

        using var response = await client.SendAsync(Request(method, path));

        await AssertUnauthorizedAsync(response, "Send an API key");
    }

    [Theory]
    [MemberData(nameof(ApiEndpoints))]
    public async Task EveryEndpoint_WithAWrongKey_InAnyPlace_Answers401Problem(string method, string path)
    {
        var wrong = ApiKeys.New();
        using var client = server.ClientWith(null);
        const string EndedSession = "The session has ended (it expired, or was signed out): sign in again.";
        foreach (var (place, answer) in new (Action<HttpRequestMessage>, string)[]
        {
            (request => request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", wrong), "The API key is not valid."),
            (request => request.Headers.Add(ApiKeyAuthentication.HeaderName, wrong), "The API key is not valid."),
            // Another user's key's hash, sent as if it were a key: hashes are not keys.
            (request => request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKeys.Hash(server.KeyOf("bob"))), "The API key is not valid."),
            // The cookie carries sessions only: a made-up one, and a real key put there, are both refused.
            (request => request.Headers.Add("Cookie", $"{ApiKeyAuthentication.SessionCookieName}={DashboardSessions.TokenPrefix}{wrong}"), EndedSession),
            (request => request.Headers.Add("Cookie", $"{ApiKeyAuthentication.SessionCookieName}={server.KeyOf("bob")}"), EndedSession),
        })
        {
            var request = Request(method, path);
            place(request);

            using var response = await client.SendAsync(request);

            await AssertUnauthorizedAsync(response, answer);
        }
    }

    [Fact]
    public async Task AKey_IsTakenFromTheBearerHeader_OrTheApiKeyHeader()
    {
        using var client = server.ClientWith(null);
        var key = server.KeyOf("carol");
        foreach (var place in new Action<HttpRequestMessage>[]
        {
            request => request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key),
            request => request.Headers.Add(ApiKeyAuthentication.HeaderName, key),
        })
        {
            var request = Request("GET", "api/session");
            place(request);

            using var response = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("carol", (await response.Content.ReadFromJsonAsync(GatewayJsonContext.Default.SessionView))!.User);
        }
    }

    [Fact]
    public async Task BothOfAUsersKeys_AreHers()
    {
        foreach (var key in new[] { server.KeyOf("alice"), server.AliceSecondKey })
        {
            using var client = server.ClientWith(new AuthenticationHeaderValue("Bearer", key));

            var session = await client.GetFromJsonAsync("api/session", GatewayJsonContext.Default.SessionView);

            Assert.Equal("alice", session!.User);
        }
    }

    [Fact]
    public async Task SigningIn_SetsAnHttpOnlyStrictCookie_ThatAuthenticates_AndSigningOut_ClearsIt()
    {
        var cookies = new CookieContainer();
        using var handler = new HttpClientHandler { CookieContainer = cookies };
        using var browser = new HttpClient(handler) { BaseAddress = server.Address };

        using var signIn = await browser.PostAsJsonAsync("api/session", new SessionRequest(server.KeyOf("dave")), GatewayJsonContext.Default.SessionRequest);

        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        Assert.Equal("dave", (await signIn.Content.ReadFromJsonAsync(GatewayJsonContext.Default.SessionView))!.User);
        var setCookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        // A session token, never the key itself, and one that expires with its session (Gateway:SessionLifetime, 12 h).
        Assert.StartsWith($"{ApiKeyAuthentication.SessionCookieName}={DashboardSessions.TokenPrefix}", setCookie, StringComparison.Ordinal);
        Assert.DoesNotContain(server.KeyOf("dave"), setCookie, StringComparison.Ordinal);
        Assert.Contains("max-age=43200", setCookie, StringComparison.OrdinalIgnoreCase);
        var token = cookies.GetCookies(server.Address)[ApiKeyAuthentication.SessionCookieName]!.Value;
        Assert.Contains("path=/", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        // Plain HTTP here, so the cookie cannot be Secure (a browser would drop it); over HTTPS it is.
        Assert.DoesNotContain("secure", setCookie, StringComparison.OrdinalIgnoreCase);
        using (var jobs = await browser.GetAsync("api/jobs"))
        {
            Assert.Equal(HttpStatusCode.OK, jobs.StatusCode);
        }

        using var signOut = await browser.DeleteAsync("api/session");

        Assert.Equal(HttpStatusCode.NoContent, signOut.StatusCode);
        Assert.Empty(cookies.GetCookies(server.Address));
        using var after = await browser.GetAsync("api/session");
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        // Ended on the server too: a copy of the cookie kept from before signing out is refused.
        using var replay = new HttpRequestMessage(HttpMethod.Get, "api/session");
        replay.Headers.Add("Cookie", $"{ApiKeyAuthentication.SessionCookieName}={token}");
        using var anonymous = server.ClientWith(null);
        using var replayed = await anonymous.SendAsync(replay);
        await AssertUnauthorizedAsync(replayed, "The session has ended (it expired, or was signed out): sign in again.");
    }

    [Fact]
    public async Task SigningIn_WithAWrongKey_Answers401_AndSetsNoCookie()
    {
        using var client = server.ClientWith(null);

        using var response = await client.PostAsJsonAsync("api/session", new SessionRequest(ApiKeys.New()), GatewayJsonContext.Default.SessionRequest);

        await AssertUnauthorizedAsync(response, "The API key is not valid.");
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"key\":\"\"}")]
    [InlineData("not json")]
    public async Task SigningIn_WithoutAKeyInTheBody_Answers400Problem(string body)
    {
        using var client = server.ClientWith(null);

        using var response = await client.PostAsync("api/session", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task TheOpenApiDocument_NeedsNoKey_AndDescribesEveryEndpointAndTheKeySchemes()
    {
        using var client = server.ClientWith(null);

        using var response = await client.GetAsync("api/openapi.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        Assert.StartsWith("3.", root.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = root.GetProperty("paths");
        Assert.Equal(
            [
                "/api/capacity", "/api/cluster", "/api/jobs", "/api/jobs/{id}", "/api/jobs/{id}/detections", "/api/jobs/{id}/segments/{segment}/detections",
                "/api/jobs/{id}/summary", "/api/jobs/{id}/timeline", "/api/jobs/{id}/video", "/api/pipeline", "/api/session",
            ],
            paths.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        // Results as they come: the OpenAPI document says how a finished segment's detections are read.
        var segmentDetections = paths.GetProperty("/api/jobs/{id}/segments/{segment}/detections").GetProperty("get");
        Assert.Contains("before the job ends", segmentDetections.GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.True(segmentDetections.GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("application/x-ndjson", out _));
        Assert.Equal(["delete", "get"], paths.GetProperty("/api/jobs/{id}").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["get", "post"], paths.GetProperty("/api/jobs").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["delete", "get", "post"], paths.GetProperty("/api/session").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));

        var schemes = root.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("bearer", schemes.GetProperty(GatewayOpenApi.BearerScheme).GetProperty("scheme").GetString());
        Assert.Equal(ApiKeyAuthentication.HeaderName, schemes.GetProperty(GatewayOpenApi.HeaderScheme).GetProperty("name").GetString());
        Assert.Equal("cookie", schemes.GetProperty(GatewayOpenApi.CookieScheme).GetProperty("in").GetString());
        var list = paths.GetProperty("/api/jobs").GetProperty("get");
        Assert.Equal(3, list.GetProperty("security").GetArrayLength());
        Assert.Contains("401", list.GetProperty("responses").EnumerateObject().Select(r => r.Name));
        Assert.Equal(["limit", "offset"], list.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).Order(StringComparer.Ordinal));
        Assert.False(paths.GetProperty("/api/session").GetProperty("post").TryGetProperty("security", out _));
        Assert.False(paths.GetProperty("/api/pipeline").GetProperty("get").TryGetProperty("security", out _));
        var video = paths.GetProperty("/api/jobs/{id}/video").GetProperty("get").GetProperty("responses");
        Assert.True(video.GetProperty("206").GetProperty("content").TryGetProperty("video/mp4", out _));
        var upload = paths.GetProperty("/api/jobs").GetProperty("post");
        Assert.Equal(["413", "415"], upload.GetProperty("responses").EnumerateObject().Select(r => r.Name).Where(n => n is "413" or "415").Order(StringComparer.Ordinal));
        Assert.True(upload.GetProperty("requestBody").GetProperty("content").TryGetProperty("multipart/form-data", out _));

        var jobView = root.GetProperty("components").GetProperty("schemas").GetProperty(nameof(JobView)).GetProperty("properties");
        Assert.Equal(["history", "job", "results", "segments", "timings"], jobView.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    private static HttpRequestMessage Request(string method, string path)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = new ByteArrayContent("not read"u8.ToArray());
        }

        return request;
    }

    // Another status (a CI run once saw a 500 here) is reported with its body and what the server logged, so it explains itself.
    private async Task AssertUnauthorizedAsync(HttpResponseMessage response, string detail)
    {
        Assert.True(
            response.StatusCode == HttpStatusCode.Unauthorized,
            $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}{Environment.NewLine}{server.Logs.Collector.Problems()}");
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(401, problem.RootElement.GetProperty("status").GetInt32());
        Assert.StartsWith(detail, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
