using System.CommandLine;
using System.Globalization;
using GEdge.Cli.Cluster;
using GEdge.Contracts;
using GEdge.Gateway;
using GEdge.JobTable;

namespace GEdge.Cli.Commands;

/// <summary>
/// <c>gedge submit VIDEO --server URL</c>: a user of a G-Edge cluster. Uploads the video to the gateway, follows its job
/// until Exit, then downloads the results (or prints the job's error and exits 1).
/// </summary>
internal static class SubmitCommand
{
    public static Command Create()
    {
        var video = new Argument<FileInfo>("video") { Description = "The video to process (mp4, mov, mkv, webm, avi, ...)." };
        var server = new Option<string>("--server") { Description = "The gateway, e.g. http://127.0.0.1:8080 (what `gedge serve` prints).", Required = true };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = $"The API key (`gedge api-key new USER`); default: ${ApiKeyVariable}, then the local cluster's {Path.Combine(LocalClusterOptions.DefaultRoot, LocalApiKey.FileName)}.",
        };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Where to write annotated.mp4, detections.json and summary.json (default: out/job-ID)." };
        var command = new Command("submit", "Send a video to a G-Edge gateway, wait for its job, and download the results.") { video, server, apiKey, output };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetRequiredValue(video), parse.GetRequiredValue(server), parse.GetValue(apiKey), parse.GetValue(output), cancellationToken));
        return command;
    }

    /// <summary>The environment variable that holds the API key when --api-key is not given.</summary>
    public const string ApiKeyVariable = "GEDGE_API_KEY";

    private static async Task<int> RunAsync(FileInfo video, string serverUrl, string? givenKey, DirectoryInfo? output, CancellationToken cancellationToken)
    {
        if (!video.Exists)
        {
            return RunCommand.Fail($"{video.FullName} does not exist.");
        }

        if (!Uri.TryCreate(serverUrl.TrimEnd('/') + "/", UriKind.Absolute, out var server) || (server.Scheme != Uri.UriSchemeHttp && server.Scheme != Uri.UriSchemeHttps))
        {
            return RunCommand.Fail($"--server must be an http:// or https:// URL, not '{serverUrl}'.");
        }

        var localKeyFile = Path.Combine(LocalClusterOptions.DefaultRoot, LocalApiKey.FileName);
        var key = givenKey is { Length: > 0 } ? givenKey
            : Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment
            : LocalApiKey.Read(localKeyFile);
        if (key is null)
        {
            return RunCommand.Fail($"no API key: give --api-key KEY, set {ApiKeyVariable}, or run `gedge serve` here (it writes {localKeyFile}).");
        }

        // No client-wide timeout: an upload takes as long as the video is big; each poll has its own below.
        using var http = new HttpClient { BaseAddress = server, Timeout = Timeout.InfiniteTimeSpan };
        var gateway = new GatewayClient(http, key);
        JobView job;
        try
        {
            job = await gateway.SubmitAsync(video, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or GatewayException)
        {
            return RunCommand.Fail($"the upload to {server} failed: {e.Message}");
        }

        var id = long.Parse(job.Job[JobFields.Id], CultureInfo.InvariantCulture);
        Console.Error.WriteLine($"job {id}: {video.Name} as {job.Job[JobFields.User]}, on {server}");
        try
        {
            job = await gateway.WaitForExitAsync(job, step => Console.Error.WriteLine($"job {id}  {GatewayClient.ProgressOf(step)}"), cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return RunCommand.Fail($"stopped waiting; job {id} goes on at {server}api/jobs/{id}");
        }
        catch (Exception e) when (e is HttpRequestException or GatewayException)
        {
            return RunCommand.Fail($"job {id} could not be followed: {e.Message}");
        }

        if (job.Job.TryGetValue(JobFields.Error, out var error))
        {
            return RunCommand.Fail($"job {id} failed: {error}");
        }

        var folder = output ?? new DirectoryInfo(Path.Combine("out", string.Create(CultureInfo.InvariantCulture, $"job-{id}")));
        try
        {
            await gateway.DownloadResultsAsync(job, folder.FullName, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or GatewayException)
        {
            return RunCommand.Fail($"job {id}'s results could not be downloaded: {e.Message}");
        }

        await RunCommand.PrintSummaryAsync(id, Seconds(job), folder).ConfigureAwait(false);
        return 0;
    }

    private static double Seconds(JobView job) =>
        job.Job.TryGetValue(JobFields.StartTime, out var start) && job.Job.TryGetValue(JobFields.EndTime, out var end)
        && DateTimeOffset.TryParse(start, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var started)
        && DateTimeOffset.TryParse(end, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var ended)
            ? (ended - started).TotalSeconds
            : 0;
}
