using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;
using Polly;
using Polly.Retry;

namespace GEdge.Gateway;

/// <summary>The gateway answered with an error; the message is its problem detail.</summary>
public sealed class GatewayException(string message) : Exception(message);

/// <summary>
/// The jobs API of a gateway, as <c>gedge submit</c> uses it and as one edge uses a peer's: upload (streamed), read a job
/// and its capacity, download a result (streamed), delete a job. Every request carries the API key as
/// <c>Authorization: Bearer KEY</c>; the key decides whose jobs these are.
/// </summary>
public sealed class GatewayClient(HttpClient http, string apiKey)
{
    private static readonly TimeSpan s_firstPoll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan s_longestPoll = TimeSpan.FromSeconds(2);

    // Polls again, with a doubling interval, while the job has taken no step.
    private static readonly ResiliencePipeline<Polled> s_untilItMoves = new ResiliencePipelineBuilder<Polled>()
        .AddRetry(new RetryStrategyOptions<Polled>
        {
            ShouldHandle = new PredicateBuilder<Polled>().HandleResult(polled => polled.Unchanged),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = false,
            Delay = 2 * s_firstPoll,
            MaxDelay = s_longestPoll,
            MaxRetryAttempts = int.MaxValue,
        })
        .Build();

    /// <summary>Uploads <paramref name="video"/> as the request body, streamed from disk, and returns the new job.</summary>
    public async Task<JobView> SubmitAsync(FileInfo video, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(video);
        await using var file = video.OpenRead();
        return await SubmitAsync(file, file.Length, video.Name, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Uploads <paramref name="length"/> bytes of <paramref name="video"/>, streamed, as a video named <paramref name="name"/>; returns the new job.</summary>
    public async Task<JobView> SubmitAsync(Stream video, long length, string name, CancellationToken cancellationToken)
    {
        using var content = new StreamContent(video, 1 << 16);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = length;
        using var request = Request(HttpMethod.Post, $"{JobsApi.Prefix.TrimStart('/')}?name={Uri.EscapeDataString(name)}");
        request.Content = content;
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return await ReadJobAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads what the gateway's cluster is doing and how long a segment would wait for each stage (<c>GET /api/capacity</c>).</summary>
    public async Task<EdgeCapacity> GetCapacityAsync(CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Get, CapacityApi.Path.TrimStart('/'));
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync(GatewayJsonContext.Default.EdgeCapacity, cancellationToken).ConfigureAwait(false)
            ?? throw new GatewayException($"The gateway answered {response.RequestMessage?.RequestUri} with no capacity.");
    }

    /// <summary>Writes the finished job's result <paramref name="name"/> (<c>video</c>, <c>detections</c>, <c>summary</c>) to <paramref name="target"/>, streamed.</summary>
    public async Task CopyResultAsync(JobView job, string name, Stream target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (!job.Results.TryGetValue(name, out var path))
        {
            throw new GatewayException($"Job {job.Job[JobFields.Id]} has no result '{name}'; it has {string.Join(", ", job.Results.Keys)}.");
        }

        using var request = Request(HttpMethod.Get, path.TrimStart('/'));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, cancellationToken).ConfigureAwait(false);
        await response.Content.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes job <paramref name="id"/> and everything it had, cancelling it first if it has not ended (the API's cancel, then its delete).</summary>
    public async Task DeleteAsync(long id, CancellationToken cancellationToken)
    {
        for (var attempt = 0; !await DeleteOnceAsync(id, cancellationToken).ConfigureAwait(false); attempt++)
        {
            if (attempt >= 50)
            {
                throw new GatewayException(string.Create(CultureInfo.InvariantCulture, $"Job {id} was not deleted: it was still ending after fifty requests."));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Asks once to delete job <paramref name="id"/>: true when it is gone (deleted now, or not there), false when it had not
    /// ended and was cancelled instead (a later request deletes it once it has ended).
    /// </summary>
    public async Task<bool> DeleteOnceAsync(long id, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Delete, JobPath(id));
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is System.Net.HttpStatusCode.NoContent or System.Net.HttpStatusCode.NotFound)
        {
            return true;
        }

        await ThrowIfFailedAsync(response, cancellationToken).ConfigureAwait(false);
        return false;
    }

    /// <summary>Every job of the caller, newest first, read a page at a time (<c>GET /api/jobs</c>, following each page's next).</summary>
    public async IAsyncEnumerable<JobView> ListAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? next = $"{JobsApi.Prefix.TrimStart('/')}?limit={JobsApi.MaxPageSize}";
        while (next is not null)
        {
            using var request = Request(HttpMethod.Get, next.TrimStart('/'));
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            await ThrowIfFailedAsync(response, cancellationToken).ConfigureAwait(false);
            var page = await response.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobList, cancellationToken).ConfigureAwait(false)
                ?? throw new GatewayException($"The gateway answered {response.RequestMessage?.RequestUri} with no list.");
            foreach (var job in page.Jobs)
            {
                yield return job;
            }

            next = page.Next;
        }
    }

    /// <summary>Reads job <paramref name="id"/>.</summary>
    public async Task<JobView> GetAsync(long id, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Get, JobPath(id));
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return await ReadJobAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Follows <paramref name="job"/> until Exit and returns its last view. Polls with a growing interval (the API has no
    /// push yet); each step the job takes (a status, or a segment done by a stage: <see cref="ProgressOf"/>) goes to
    /// <paramref name="onStep"/> once, and starts the interval again from the first: s_firstPoll, then Polly's doubling
    /// from twice that up to s_longestPoll while nothing moves. Each poll has 30 s to answer.
    /// </summary>
    public async Task<JobView> WaitForExitAsync(JobView job, Action<JobView>? onStep, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var id = long.Parse(job.Job[JobFields.Id], CultureInfo.InvariantCulture);
        while (true)
        {
            onStep?.Invoke(job);
            if (job.Job[JobFields.Status] == nameof(JobStatus.Exit))
            {
                return job;
            }

            await Task.Delay(s_firstPoll, cancellationToken).ConfigureAwait(false);
            var polled = await s_untilItMoves.ExecuteAsync(
                static async (state, token) =>
                {
                    using var poll = CancellationTokenSource.CreateLinkedTokenSource(token);
                    poll.CancelAfter(TimeSpan.FromSeconds(30));
                    var view = await state.Client.GetAsync(state.Id, poll.Token).ConfigureAwait(false);
                    return new Polled(view, ProgressOf(view) == state.Step);
                },
                (Client: this, Id: id, Step: ProgressOf(job)),
                cancellationToken).ConfigureAwait(false);
            job = polled.View;
        }
    }

    /// <summary>Where a job is: its status and, once it is cut, the segments each stage has done (<c>Inferencing  segments done: Preprocessing 4/4, Inferencing 1/4, Postprocessing 0/4</c>).</summary>
    public static string ProgressOf(JobView job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var status = job.Job[JobFields.Status];
        return job.Segments is not { } segments || status == nameof(JobStatus.Exit)
            ? status
            : $"{status,-23} segments done: {string.Join(", ", segments.Done.Select(d => string.Create(CultureInfo.InvariantCulture, $"{d.Key} {d.Value}/{segments.Total}")))}";
    }

    /// <summary>Reads job <paramref name="id"/>'s timeline: each stage's attempt at each segment, the cut and the join.</summary>
    public async Task<JobTimeline> GetTimelineAsync(long id, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Get, JobPath(id) + "/timeline");
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync(GatewayJsonContext.Default.JobTimeline, cancellationToken).ConfigureAwait(false)
            ?? throw new GatewayException($"The gateway answered {response.RequestMessage?.RequestUri} with no timeline.");
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

    private static string JobPath(long id) => string.Create(CultureInfo.InvariantCulture, $"{JobsApi.Prefix.TrimStart('/')}/{id}");

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

/// <summary>One poll of a job: what the gateway said, and whether it has taken no step since the last.</summary>
internal readonly record struct Polled(JobView View, bool Unchanged);
