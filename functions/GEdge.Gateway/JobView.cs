using System.Text.Json;
using System.Text.Json.Serialization;
using GEdge.JobTable;
using GEdge.Stages;

namespace GEdge.Gateway;

/// <summary>
/// A job as the API shows it: its record (the hash's fields, as <c>HGETALL</c> shows them), the statuses it passed
/// through, and where its results can be read once it has finished without error.
/// </summary>
/// <param name="Job">The job's fields: the eight contract fields first, then the extras (error, timings, ...).</param>
/// <param name="History">Every status the job entered, oldest first.</param>
/// <param name="Results">Each result file's URL path by file name; empty until the job is in Exit without an error.</param>
public sealed record JobView(
    IReadOnlyDictionary<string, string> Job,
    IReadOnlyList<JobViewTransition> History,
    IReadOnlyDictionary<string, string> Results)
{
    /// <summary>The view of <paramref name="job"/> with its <paramref name="history"/>, its results under <paramref name="jobPath"/>.</summary>
    public static JobView Of(Job job, IReadOnlyList<JobTransition> history, string jobPath)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(history);
        var results = new Dictionary<string, string>(StringComparer.Ordinal);
        if (HasResults(job))
        {
            foreach (var name in JobArtifacts.ResultFiles)
            {
                results[name] = $"{jobPath}/{name}";
            }
        }

        return new JobView(job.ToRecord(), history.Select(t => new JobViewTransition(t.Status, t.Time)).ToList(), results);
    }

    /// <summary>Whether a job's results exist: it is in Exit and did not fail.</summary>
    public static bool HasResults(Job job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return job.Status == JobStatus.Exit && job.Error is null;
    }
}

/// <summary>One status a job entered, and when.</summary>
public sealed record JobViewTransition(JobStatus Status, DateTimeOffset Time);

/// <summary>Source-generated JSON for the API's documents, shared by the gateway and its clients.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(JobView))]
public sealed partial class GatewayJsonContext : JsonSerializerContext;
