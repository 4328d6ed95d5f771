using System.Globalization;
using GEdge.Contracts;

namespace GEdge.JobTable;

/// <summary>A job as the flat record its hash holds: the eight contract fields first, then the extras.</summary>
public static class JobRecord
{
    /// <summary>
    /// The job's fields as strings, exactly as <c>HGETALL</c> would show them (times in UTC ISO 8601; fields that are
    /// not set, such as <c>end_time</c> before <see cref="JobStatus.Exit"/>, as empty strings).
    /// </summary>
    public static IReadOnlyDictionary<string, string> ToRecord(this Job job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var record = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [JobFields.Id] = job.Id.ToString(CultureInfo.InvariantCulture),
            [JobFields.User] = job.User,
            [JobFields.Path] = job.Path,
            [JobFields.Type] = job.Type,
            [JobFields.Status] = job.Status.ToString(),
            [JobFields.StartTime] = Time(job.StartTime),
            [JobFields.EndTime] = Time(job.EndTime),
            [JobFields.Iteration] = job.Iteration.ToString(CultureInfo.InvariantCulture),
        };
        Add(record, JobFields.Error, job.Error);
        Add(record, JobFields.LastError, job.LastError);
        Add(record, JobFields.ObjectVersion, job.ObjectVersion);
        Add(record, JobFields.CreatedTime, job.CreatedTime is { } created ? JobTime.Format(created) : null);
        Add(record, JobFields.Segments, job.Segments?.ToString(CultureInfo.InvariantCulture));
        Add(record, JobFields.LeaseDeadline, job.LeaseDeadline is { } lease ? JobTime.Format(lease) : null);
        Add(record, JobFields.TraceId, job.TraceId);
        foreach (var (field, value) in job.Fields.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            record[field] = value;
        }

        return record;
    }

    private static string Time(DateTimeOffset? time) => time is { } value ? JobTime.Format(value) : string.Empty;

    private static void Add(Dictionary<string, string> record, string field, string? value)
    {
        if (value is not null)
        {
            record[field] = value;
        }
    }
}
