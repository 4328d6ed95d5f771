using System.Text;
using System.Text.Json;
using GEdge.Gateway;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Functions.Tests;

/// <summary>
/// The Gateway function app's <c>api</c> function: every <c>/api</c> request goes through the gateway's own API pipeline
/// (routing, API key authentication, the same endpoints every host maps), with the app's services.
/// </summary>
[Collection(OneGarnetServer.Name)]
public sealed class GatewayApiFunctionTests(GarnetFixture garnet) : IAsyncDisposable
{
    private readonly GatewayHost _gateway = new(garnet);

    public ValueTask DisposeAsync() => _gateway.DisposeAsync();

    [Fact]
    public async Task AnApiRequest_WithoutAKey_Gets401_WithABearerChallenge()
    {
        var http = await CallAsync("GET", "/api/jobs", key: null);

        Assert.Equal(StatusCodes.Status401Unauthorized, http.Response.StatusCode);
        Assert.Equal("Bearer", http.Response.Headers.WWWAuthenticate.ToString());
        Assert.Equal("application/problem+json", http.Response.ContentType);
    }

    [Fact]
    public async Task AnApiRequest_WithAKey_IsAnsweredAsTheKeysUser()
    {
        var session = await CallAsync("GET", "/api/session", _gateway.ApiKey);
        var list = await CallAsync("GET", "/api/jobs?limit=5", _gateway.ApiKey);
        var missing = await CallAsync("GET", "/api/jobs/424242", _gateway.ApiKey);

        Assert.Equal(StatusCodes.Status200OK, session.Response.StatusCode);
        Assert.Equal("alice", Json(session).GetProperty("user").GetString());
        Assert.Equal(StatusCodes.Status200OK, list.Response.StatusCode);
        Assert.Equal(5, Json(list).GetProperty("limit").GetInt32());
        Assert.Equal(StatusCodes.Status404NotFound, missing.Response.StatusCode);
        Assert.Equal("No such job", Json(missing).GetProperty("title").GetString());
    }

    [Fact]
    public async Task TheOpenApiDocument_IsServedWithoutAKey_AndAPathTheApiDoesNotHaveIs404()
    {
        var document = await CallAsync("GET", "/api/openapi.json", key: null);
        var unknown = await CallAsync("GET", "/api/nothing-here", _gateway.ApiKey);

        Assert.Equal(StatusCodes.Status200OK, document.Response.StatusCode);
        Assert.True(Json(document).GetProperty("paths").TryGetProperty("/api/jobs/{id}/video", out _));
        Assert.Equal(StatusCodes.Status404NotFound, unknown.Response.StatusCode);
    }

    [Fact]
    public async Task TheDashboard_PageAndAssets_AreServedWithoutAKey_ThroughTheSamePipeline()
    {
        var page = await CallAsync("GET", "/", key: null, function: request => _gateway.Functions.DashboardAsync(request));
        var script = await CallAsync("GET", "/dashboard/app.js", key: null, function: request => _gateway.Functions.DashboardAssetsAsync(request));
        var missing = await CallAsync("GET", "/dashboard/nothing.js", key: null, function: request => _gateway.Functions.DashboardAssetsAsync(request));

        Assert.Equal(StatusCodes.Status200OK, page.Response.StatusCode);
        Assert.StartsWith("text/html", page.Response.ContentType, StringComparison.Ordinal);
        Assert.Contains("/dashboard/app.js", Text(page), StringComparison.Ordinal);
        Assert.Equal(StatusCodes.Status200OK, script.Response.StatusCode);
        Assert.StartsWith("text/javascript", script.Response.ContentType, StringComparison.Ordinal);
        Assert.Equal(StatusCodes.Status404NotFound, missing.Response.StatusCode);
    }

    private async Task<HttpContext> CallAsync(string method, string pathAndQuery, string? key, Func<HttpRequest, Task<Microsoft.AspNetCore.Mvc.IActionResult>>? function = null)
    {
        // Each request gets its own scope of the app's services, as the host gives it.
        await using var scope = _gateway.Services.CreateAsyncScope();
        var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        var query = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        http.Request.Method = method;
        http.Request.Path = query < 0 ? pathAndQuery : pathAndQuery[..query];
        http.Request.QueryString = query < 0 ? QueryString.Empty : new QueryString(pathAndQuery[query..]);
        if (key is not null)
        {
            http.Request.Headers.Authorization = "Bearer " + key;
        }

        http.Response.Body = new MemoryStream();
        await IntegrationPipeline.InvokeAsync(http, () => (function ?? _gateway.Functions.ApiAsync)(http.Request), _gateway.Logs);
        return http;
    }

    private static string Text(HttpContext http) => Encoding.UTF8.GetString(((MemoryStream)http.Response.Body).ToArray());

    private static JsonElement Json(HttpContext http)
    {
        http.Response.Body.Position = 0;
        return JsonDocument.Parse(Encoding.UTF8.GetString(((MemoryStream)http.Response.Body).ToArray())).RootElement.Clone();
    }
}
