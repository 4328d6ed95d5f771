using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using GEdge.Gateway;

namespace GEdge.Cli.Cluster;

/// <summary>The gateway answered with an error; the message is its problem detail.</summary>
internal sealed class GatewayException(string message) : Exception(message);

/// <summary>
/// The jobs API of a gateway, as <c>gedge submit</c> uses it: upload (streamed), read a job, download a result (streamed).
/// Every request carries the API key as <c>Authorization: Bearer KEY</c>; the key decides whose jobs these are.
/// </summary>
internal sealed class GatewayClient(HttpClient http, string apiKey)
{
    /// <summary>Uploads <paramref name="video"/> as the request body, streamed from disk, and returns the new job.</summary>
    public async Task<JobView> SubmitAsync(FileInfo video, CancellationToken cancellationToken)
    {
        await using var file = video.OpenRead();
        using var content = new StreamContent(file, 1 << 16);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = file.Length;
        using var request = Request(HttpMethod.Post, $"{GEdge.Gateway.JobsApi.Prefix.TrimStart('/')}?name={Uri.EscapeDataString(video.Name)}");
        request.Content = content;
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return await ReadJobAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads job <paramref name="id"/>.</summary>
    public async Task<JobView> GetAsync(long id, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Get, JobPath(id));
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return await ReadJobAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Downloads every result of a finished job into <paramref name="folder"/> (as annotated.mp4, detections.json, summary.json), streamed to disk.</summary>
    public async Task DownloadResultsAsync(JobView job, string folder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        Directory.CreateDirectory(folder);
        foreach (var (name, path) in job.Results)
        {
            using var request = Request(HttpMethod.Get, path.TrimStart('/'));
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            await ThrowIfFailedAsync(response, cancellationToken).ConfigureAwait(false);
            await using var target = File.Create(Path.Combine(folder, JobResults.FileOf(name)));
            await response.Content.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
        }
    }

    private HttpRequestMessage Request(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return request;
    }

    private static string JobPath(long id) => string.Create(CultureInfo.InvariantCulture, $"{GEdge.Gateway.JobsApi.Prefix.TrimStart('/')}/{id}");

    private static async Task<JobView> ReadJobAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await ThrowIfFailedAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobView, cancellationToken).ConfigureAwait(false)
            ?? throw new GatewayException($"The gateway answered {response.RequestMessage?.RequestUri} with no job.");
    }

    private static async Task ThrowIfFailedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        string? detail = null;
        try
        {
            using var problem = JsonDocument.Parse(body);
            detail = problem.RootElement.TryGetProperty("detail", out var value) ? value.GetString() : null;
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's page, say): show the body itself.
        }

        throw new GatewayException($"the gateway answered {(int)response.StatusCode} {response.ReasonPhrase}: {detail ?? body}");
    }
}
