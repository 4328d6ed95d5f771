using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using GEdge.Contracts;
using GEdge.Gateway;
using GEdge.JobTable;
using GEdge.Jobs;
using Polly;
using Polly.Retry;

namespace GEdge.Cli.Cluster;

/// <summary>The gateway answered with an error; the message is its problem detail.</summary>
internal sealed class GatewayException(string message) : Exception(message);

/// <summary>
/// The jobs API of a gateway, as <c>gedge submit</c> uses it: upload (streamed), read a job, download a result (streamed).
/// Every request carries the API key as <c>Authorization: Bearer KEY</c>; the key decides whose jobs these are.
/// </summary>
internal sealed class GatewayClient(HttpClient http, string apiKey)
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

/// <summary>One poll of a job: what the gateway said, and whether it has taken no step since the last.</summary>
internal readonly record struct Polled(JobView View, bool Unchanged);
