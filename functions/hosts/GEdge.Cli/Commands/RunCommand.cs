using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GEdge.Artifacts;
using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Storage;

namespace GEdge.Cli.Commands;

/// <summary><c>gedge run VIDEO</c>: the main job, end to end on the embedded default.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var video = new Argument<FileInfo>("video") { Description = "The video to process (mp4, mov, mkv, webm, avi, ...)." };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Where to write annotated.mp4, detections.json and summary.json (default: out/job-ID)." };
        var user = new Option<string>("--user") { Description = "Whose job it is.", DefaultValueFactory = _ => "local" };
        var verbose = new Option<bool>("--verbose") { Description = "Log what every stage does." };
        var timings = new Option<FileInfo?>("--timings")
        {
            Description = "Print where the process's time went (the runtime's start, the job table, the model session, the first ffprobe and ffmpeg, " +
                "the job, the shutdown: each part's start and length in ms since the process started) and write them to this file as JSON.",
        };
        var command = new Command("run", "Process a video end to end: annotated video, per-frame detections and a summary.") { video, output, user, verbose, timings };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetRequiredValue(video), parse.GetValue(output), parse.GetRequiredValue(user), parse.GetValue(verbose), parse.GetValue(timings), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo video, DirectoryInfo? output, string user, bool verbose, FileInfo? timings, CancellationToken cancellationToken)
    {
        if (timings is null)
        {
            return await RunJobAsync(video, output, user, verbose, cancellationToken).ConfigureAwait(false);
        }

        // Listening from here: what ran before (the runtime's start, parsing the command line) is the timeline's "runtime".
        using var timeline = new StartupTimeline();
        var exitCode = await RunJobAsync(video, output, user, verbose, cancellationToken).ConfigureAwait(false);
        await timeline.ReportAsync(timings.FullName, cancellationToken).ConfigureAwait(false);
        return exitCode;
    }

    private static async Task<int> RunJobAsync(FileInfo video, DirectoryInfo? output, string user, bool verbose, CancellationToken cancellationToken)
    {
        if (!video.Exists)
        {
            return Fail($"{video.FullName} does not exist.");
        }

        try
        {
            ObjectKey.ValidateUser(user);
        }
        catch (ArgumentException e)
        {
            return Fail(e.Message);
        }

        var progress = new ConsoleProgress();
        var pipeline = await EmbeddedPipeline.StartAsync(progress, verbose: verbose, cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            return await RunJobAsync(pipeline, progress, video, output, user, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            using var stopping = StartupTimeline.Activities.StartActivity("shutdown");
            await pipeline.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<int> RunJobAsync(EmbeddedPipeline pipeline, ConsoleProgress progress, FileInfo video, DirectoryInfo? output, string user, CancellationToken cancellationToken)
    {
        (int Ended, int Cleared) earlier;
        using (StartupTimeline.Activities.StartActivity("earlier runs"))
        {
            earlier = await pipeline.EndEarlierRunsAsync(cancellationToken).ConfigureAwait(false);
        }

        var (ended, cleared) = earlier;
        if (ended > 0)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"gedge: {ended} job(s) of earlier runs here had not ended (their run was killed): ended now, their intermediates removed"));
        }

        if (cleared > 0)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"gedge: removed the intermediates earlier runs here left of {cleared} ended or unknown job(s)"));
        }

        var running = StartupTimeline.Activities.StartActivity("job");
        var jobId = await pipeline.SubmitAsync(video.FullName, user, cancellationToken).ConfigureAwait(false);
        Console.Error.WriteLine($"job {jobId}: {video.Name} as {user}");
        Job job;
        try
        {
            job = await pipeline.WaitForExitAsync(jobId, cancellationToken).ConfigureAwait(false);
            running?.Dispose();
        }
        catch (OperationCanceledException)
        {
            progress.Finish();
            // Ctrl+C is the user cancelling the job: the same ending as a cancel through the API.
            await pipeline.CancelAsync(jobId).ConfigureAwait(false);
            return Fail($"job {jobId} cancelled.");
        }

        progress.Finish();
        if (job.Error is not null)
        {
            return Fail($"job {jobId} failed: {job.Error}");
        }

        var folder = output ?? new DirectoryInfo(Path.Combine("out", string.Create(CultureInfo.InvariantCulture, $"job-{jobId}")));
        using var results = StartupTimeline.Activities.StartActivity("results");
        await pipeline.DownloadResultsAsync(job, folder.FullName, cancellationToken).ConfigureAwait(false);
        var seconds = job.EndTime is { } end && job.StartTime is { } start ? (end - start).TotalSeconds : 0;
        await PrintSummaryAsync(job.Id, seconds, folder).ConfigureAwait(false);
        // Peak resident memory of the whole process (VmHWM on Linux): the figure the memory benchmark compares.
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"peak memory {self.PeakWorkingSet64 / (1024.0 * 1024.0):0} MiB"));
        return 0;
    }

    /// <summary>Prints what a finished job found, from the summary.json among its results in <paramref name="folder"/>.</summary>
    internal static async Task PrintSummaryAsync(long jobId, double seconds, DirectoryInfo folder)
    {
        await using var stream = File.OpenRead(Path.Combine(folder.FullName, "summary.json"));
        var summary = await JsonSerializer.DeserializeAsync(stream, PipelineJsonContext.Default.JobSummary).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"job {jobId} done in {seconds:0.0} s: {summary!.Video.Frames} frames, {summary.Video.Width}x{summary.Video.Height} at {summary.Video.Fps:0.##} fps"));
        foreach (var item in summary.Classes.Take(8))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {item.Label,-14} in {item.FramesPresent,5} frames, {item.Detections,6} detections, at most {item.PeakInOneFrame} at once"));
        }

        Console.WriteLine($"results in {folder.FullName}: {string.Join(", ", JobArtifacts.ResultFiles)}");
    }

    internal static int Fail(string message)
    {
        Console.Error.WriteLine($"gedge: {message}");
        return 1;
    }
}
