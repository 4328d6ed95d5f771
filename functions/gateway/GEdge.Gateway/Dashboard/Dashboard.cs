using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace GEdge.Gateway;

/// <summary>
/// The dashboard: one page at <c>GET /</c> and its scripts, styles and vendored libraries under <c>/dashboard/</c>, all
/// embedded in this assembly (<c>Dashboard/wwwroot</c>), so every host that maps the gateway serves the same files. The
/// files need no authentication; the page calls the jobs API with the session cookie.
/// </summary>
public static class Dashboard
{
    /// <summary>The URL path under which the page's assets are served.</summary>
    public const string AssetsPath = "/dashboard";

    /// <summary>The page's file, relative to the embedded root.</summary>
    public const string PageFile = "index.html";

    /// <summary>Maps <c>GET /</c> (the page) and <c>GET /dashboard/{path}</c> (its assets), both also for <c>HEAD</c>.</summary>
    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        string[] methods = [HttpMethods.Get, HttpMethods.Head];
        endpoints.MapMethods("/", methods, (HttpContext context) => DashboardFiles.Embedded.Serve(context, PageFile))
            .ExcludeFromDescription();
        endpoints.MapMethods(AssetsPath + "/{**path}", methods, (HttpContext context, string? path) =>
                DashboardFiles.Embedded.Serve(context, $"{AssetsPath[1..]}/{path}"))
            .ExcludeFromDescription();
        return endpoints;
    }
}

/// <summary>
/// The dashboard's files, read once from the assembly into memory (a few hundred kilobytes), each with its content type,
/// a strong ETag from its SHA-256 and its caching rule.
/// </summary>
public sealed class DashboardFiles
{
    // Vendored libraries live in folders named with their version (vendor/chart.js-4.6.1/), so a file's URL never
    // changes content: browsers may keep them for a year. The page and its own modules change with every release of
    // G-Edge and have no version in their names, so browsers revalidate them (a 304 when the ETag still matches).
    private const string VendorPrefix = "dashboard/vendor/";
    private const string Immutable = "public, max-age=31536000, immutable";
    private const string Revalidate = "no-cache";

    // The page runs only its own files: no inline script or style, no other origin, no framing. Chart.js styles its
    // canvas through the CSSOM, which style-src does not restrict.
    private const string PagePolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; " +
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    private static readonly Lazy<DashboardFiles> s_embedded = new(() =>
        new DashboardFiles(new ManifestEmbeddedFileProvider(typeof(DashboardFiles).Assembly, "Dashboard/wwwroot")));

    private readonly FrozenDictionary<string, DashboardFile> _files;

    /// <summary>Reads every file <paramref name="provider"/> holds.</summary>
    public DashboardFiles(IFileProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var types = new FileExtensionContentTypeProvider();
        var files = new Dictionary<string, DashboardFile>(StringComparer.Ordinal);
        Read(provider, "", types, files);
        if (!files.ContainsKey(Dashboard.PageFile))
        {
            throw new InvalidOperationException($"The dashboard's files hold no {Dashboard.PageFile}; the assembly was built without them.");
        }

        _files = files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The files embedded in the gateway's assembly.</summary>
    public static DashboardFiles Embedded => s_embedded.Value;

    /// <summary>Every file's path relative to the root, with <c>/</c> between folders.</summary>
    public IEnumerable<string> Paths => _files.Keys;

    /// <summary>
    /// Answers a request for the file at <paramref name="path"/> (relative to the root): the file with its headers, a
    /// 304 when the request's <c>If-None-Match</c> names its ETag, or 404 when there is no such file. Paths are looked up
    /// exactly, so <c>..</c> or an encoded slash can only miss.
    /// </summary>
    public IResult Serve(HttpContext context, string path)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(path);
        if (!_files.TryGetValue(path, out var file))
        {
            return Results.NotFound();
        }

        var headers = context.Response.Headers;
        headers.CacheControl = file.CacheControl;
        headers.XContentTypeOptions = "nosniff";
        if (path == Dashboard.PageFile)
        {
            headers.ContentSecurityPolicy = PagePolicy;
            headers["Referrer-Policy"] = "no-referrer";
        }

        return Results.Bytes(file.Content, file.ContentType, entityTag: file.ETag);
    }

    private static void Read(IFileProvider provider, string folder, FileExtensionContentTypeProvider types, Dictionary<string, DashboardFile> files)
    {
        foreach (var entry in provider.GetDirectoryContents("/" + folder))
        {
            var path = folder.Length == 0 ? entry.Name : $"{folder}/{entry.Name}";
            if (entry.IsDirectory)
            {
                Read(provider, path, types, files);
                continue;
            }

            using var stream = entry.CreateReadStream();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            var hash = Convert.ToHexStringLower(SHA256.HashData(content));
            files[path] = new DashboardFile(
                content,
                ContentTypeOf(path, types),
                new EntityTagHeaderValue($"\"{hash[..32]}\""),
                path.StartsWith(VendorPrefix, StringComparison.Ordinal) ? Immutable : Revalidate);
        }
    }

    // Text is UTF-8 everywhere in the dashboard; saying so spares the browser a guess.
    private static string ContentTypeOf(string path, FileExtensionContentTypeProvider types)
    {
        if (!types.TryGetContentType(path, out var type))
        {
            return "application/octet-stream";
        }

        return type.StartsWith("text/", StringComparison.Ordinal) || type == "image/svg+xml" ? type + "; charset=utf-8" : type;
    }

    private sealed record DashboardFile(byte[] Content, string ContentType, EntityTagHeaderValue ETag, string CacheControl);
}
