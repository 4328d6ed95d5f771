using System.Net;
using System.Net.Http.Headers;
using System.Text;
using GEdge.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GEdge.Cluster.Tests;

/// <summary>
/// The dashboard's files as a browser gets them from <see cref="Dashboard.MapDashboard"/> on a real Kestrel server:
/// the page at <c>/</c>, its assets under <c>/dashboard/</c>, with their types, caching rules and ETags.
/// </summary>
public sealed class DashboardFilesTests : IAsyncLifetime, IDisposable
{
    private readonly HttpClient _http = new();
    private WebApplication _app = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddRouting();
        _app = builder.Build();
        _app.MapDashboard();
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        _http.BaseAddress = new Uri(address);
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Root_IsThePage_RevalidatedEveryTime_AndRunningOnlyItsOwnScripts()
    {
        using var response = await _http.GetAsync(new Uri("/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        Assert.NotNull(response.Headers.ETag);
        Assert.Equal(["nosniff"], response.Headers.GetValues("X-Content-Type-Options"));
        Assert.Equal(["no-referrer"], response.Headers.GetValues("Referrer-Policy"));
        var policy = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self';", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        var page = await response.Content.ReadAsStringAsync();
        Assert.StartsWith("<!doctype html>", page, StringComparison.Ordinal);
        Assert.Contains("<script src=\"/dashboard/app.js\" type=\"module\"></script>", page, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/dashboard/app.js", "text/javascript; charset=utf-8")]
    [InlineData("/dashboard/jobs.js", "text/javascript; charset=utf-8")]
    [InlineData("/dashboard/dashboard.css", "text/css; charset=utf-8")]
    [InlineData("/dashboard/favicon.svg", "image/svg+xml; charset=utf-8")]
    public async Task OwnAssets_HaveTheirContentType_AndAreRevalidated(string path, string contentType)
    {
        using var response = await _http.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType?.ToString());
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        Assert.False(response.Headers.Contains("Content-Security-Policy"), "only the page carries the policy");
        Assert.True((await response.Content.ReadAsByteArrayAsync()).Length > 100);
    }

    [Fact]
    public async Task VendoredChartJs_IsServedUnchanged_AndCachedForAYear()
    {
        var local = Path.Combine(BrowserTools.RepositoryRoot, "functions", "gateway", "GEdge.Gateway", "Dashboard", "wwwroot", "dashboard", "vendor", "chart.js-4.6.1", "chart.umd.min.js");

        using var response = await _http.GetAsync(new Uri("/dashboard/vendor/chart.js-4.6.1/chart.umd.min.js", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal("public, max-age=31536000, immutable", response.Headers.CacheControl?.ToString());
        Assert.Equal(await File.ReadAllBytesAsync(local), await response.Content.ReadAsByteArrayAsync());
        Assert.StartsWith("/*!\n * Chart.js v4.6.1\n", Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAssetWhoseETagTheBrowserHas_Is304WithoutABody()
    {
        using var first = await _http.GetAsync(new Uri("/dashboard/app.js", UriKind.Relative));
        var etag = first.Headers.ETag!;
        Assert.False(etag.IsWeak);

        using var again = new HttpRequestMessage(HttpMethod.Get, new Uri("/dashboard/app.js", UriKind.Relative));
        again.Headers.IfNoneMatch.Add(etag);
        using var revalidated = await _http.SendAsync(again);

        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        Assert.Empty(await revalidated.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, revalidated.Headers.ETag);

        using var stale = new HttpRequestMessage(HttpMethod.Get, new Uri("/dashboard/app.js", UriKind.Relative));
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"an-older-version\""));
        using var changed = await _http.SendAsync(stale);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
    }

    [Fact]
    public async Task Head_GivesTheHeadersAndNoBody()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, new Uri("/dashboard/dashboard.css", UriKind.Relative));
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/css; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.True(response.Content.Headers.ContentLength > 100);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("/dashboard/missing.js")]
    [InlineData("/dashboard/")]
    [InlineData("/dashboard/index.html")]
    [InlineData("/dashboard/vendor/chart.js-4.6.1")]
    [InlineData("/dashboard/APP.JS")]
    [InlineData("/index.html")]
    public async Task AnythingButAnEmbeddedFile_Is404(string path)
    {
        using var response = await _http.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public void TheEmbeddedFiles_AreExactlyTheDashboardFolder()
    {
        var folder = Path.Combine(BrowserTools.RepositoryRoot, "functions", "gateway", "GEdge.Gateway", "Dashboard", "wwwroot");
        var onDisk = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(folder, file).Replace(Path.DirectorySeparatorChar, '/'));

        Assert.Equal(onDisk.Order(StringComparer.Ordinal), DashboardFiles.Embedded.Paths.Order(StringComparer.Ordinal));
    }
}
