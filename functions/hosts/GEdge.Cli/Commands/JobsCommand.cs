using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GEdge.Contracts;
using GEdge.JobTable;
using GEdge.Jobs;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Cli.Commands;

/// <summary><c>gedge jobs</c> and <c>gedge job ID</c>: the job table, as a table or as JSON records.</summary>
internal static class JobsCommand
{
    public static Command CreateList()
    {
        var user = new Option<string?>("--user") { Description = "Only this user's jobs." };
        var json = new Option<bool>("--json") { Description = "Print the records as a JSON array." };
        var limit = new Option<int>("--limit") { Description = "At most this many jobs, newest first.", DefaultValueFactory = _ => 50 };
        var command = new Command("jobs", "Show the job table, newest first.") { user, json, limit };
        command.SetAction((parse, _) => ListAsync(parse.GetValue(user), parse.GetValue(json), parse.GetValue(limit)));
        return command;
    }

    public static Command CreateShow()
    {
        var id = new Argument<long>("id") { Description = "The job's number." };
        var json = new Option<bool>("--json") { Description = "Print the record as JSON." };
        var command = new Command("job", "Show one job's record, then where its time went: each stage's segments, attempts, retries, work and waits.") { id, json };
        command.SetAction((parse, _) => ShowAsync(parse.GetValue(id), parse.GetValue(json)));
        return command;
    }

    private static async Task<int> ListAsync(string? user, bool json, int limit)
    {
        using var host = EmbeddedHost.CreateJobTableOnly(verbose: false);
        var jobs = host.Services.GetRequiredService<JobTable.JobTable>();
        limit = Math.Clamp(limit, 1, JobTable.JobTable.MaxPageSize);
        IReadOnlyList<Job> list;
        if (user is not null)
        {
            list = (await jobs.ListByUserAsync(user, 0, limit).ConfigureAwait(false)).Jobs;
        }
        else
        {
            // Every job is in exactly one status set, so their union is the whole table.
            var all = new List<Job>();
            foreach (var status in Enum.GetValues<JobStatus>())
            {
                all.AddRange(await jobs.ListByStatusAsync(status, limit).ConfigureAwait(false));
            }

            all.Sort((a, b) => b.Id.CompareTo(a.Id));
            list = all.Take(limit).ToList();
        }

        if (json)
        {
            var records = list.Select(job => job.ToRecord()).ToList();
            Console.WriteLine(JsonSerializer.Serialize(records, CliJsonContext.Default.ListIReadOnlyDictionaryStringString));
            return 0;
        }

        Console.WriteLine($"{"id",5}  {"user",-10} {"status",-23} {"iteration",9}  {"start_time",-20} {"end_time",-20} {"type",-5} path");
        foreach (var job in list)
        {
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{job.Id,5}  {job.User,-10} {job.Status,-23} {job.Iteration,9}  {Time(job.StartTime),-20} {Time(job.EndTime),-20} {job.Type,-5} {job.Path}"));
            if (job.Error is not null)
            {
                Console.WriteLine($"       error: {job.Error}");
            }
        }

        return 0;
    }

    private static async Task<int> ShowAsync(long id, bool json)
    {
        using var host = EmbeddedHost.CreateJobTableOnly(verbose: false);
        var jobs = host.Services.GetRequiredService<JobTable.JobTable>();
        var job = await jobs.GetAsync(id).ConfigureAwait(false);
        if (job is null)
        {
            return RunCommand.Fail($"there is no job {id}.");
        }

        var record = job.ToRecord();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(record, CliJsonContext.Default.IReadOnlyDictionaryStringString));
            return 0;
        }

        foreach (var (field, value) in record)
        {
            Console.WriteLine($"{field,-22} {value}");
        }

        var timeline = JobTimeline.Of(job, await jobs.GetHistoryAsync(id).ConfigureAwait(false), await jobs.GetSegmentHistoryAsync(id).ConfigureAwait(false));
        Console.WriteLine();
        Console.Write(Breakdown(timeline));
        return 0;
    }

    /// <summary>
    /// The per-stage breakdown of a job's time, after a blank line under its record: one row per stage (segments done,
    /// attempts, retries, seconds worked and waited in all and at most), and the cut and the join, each with when it
    /// first started and last ended, in seconds from the upload.
    /// </summary>
    internal static string Breakdown(JobTimeline timeline)
    {
        ArgumentNullException.ThrowIfNull(timeline);
        var origin = timeline.Created ?? timeline.Attempts.Select(a => a.Ready).DefaultIfEmpty(DateTimeOffset.UtcNow).Min();
        string At(DateTimeOffset? time) => time is { } t ? (t - origin).TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) : "-";
        static string S(double seconds) => seconds.ToString("0.00", CultureInfo.InvariantCulture);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"stage",-12} {"segments",8} {"attempts",8} {"retries",7} {"worked s",9} {"longest",8} {"waited s",9} {"longest",8}   from -> to (s after upload)");
        void AppendSteps(string name)
        {
            foreach (var step in timeline.Steps.Where(s => s.Name == name))
            {
                var took = step.End is { } end ? S((end - step.Start).TotalSeconds) : "-";
                text.AppendLine(CultureInfo.InvariantCulture, $"{step.Name,-12} {"",8} {"",8} {"",7} {took,9} {"",8} {"",9} {"",8}   {At(step.Start)} -> {At(step.End)}");
            }
        }

        AppendSteps(JobTimeline.Cut);
        foreach (var stage in timeline.Stages)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{stage.Stage,-12} {stage.Segments,8} {stage.Attempts,8} {stage.Retries,7} {S(stage.WorkSeconds),9} {S(stage.LongestWorkSeconds),8} {S(stage.WaitSeconds),9} {S(stage.LongestWaitSeconds),8}   {At(stage.FirstStart)} -> {At(stage.LastEnd)}");
        }

        AppendSteps(JobTimeline.Join);
        text.AppendLine(CultureInfo.InvariantCulture, $"{"total",-12} {At(timeline.Ended),9} s from the upload to Exit");
        return text.ToString();
    }

    private static string Time(DateTimeOffset? time) => time?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";
}
