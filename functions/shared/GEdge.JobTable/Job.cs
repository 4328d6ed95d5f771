using System.Collections.Frozen;
using System.Globalization;
using GEdge.Contracts;

namespace GEdge.JobTable;

/// <summary>One job as read from its hash.</summary>
public sealed record Job
{
    private static readonly FrozenDictionary<string, JobStatus> s_statusByName =
        Enum.GetValues<JobStatus>().ToFrozenDictionary(s => s.ToString(), StringComparer.Ordinal);

    /// <summary>The job's number.</summary>
    public required long Id { get; init; }

    /// <summary>Who sent the request.</summary>
    public required string User { get; init; }

    /// <summary>Where the uploaded video is stored (bucket/key).</summary>
    public required string Path { get; init; }

    /// <summary>The video's file extension.</summary>
    public required string Type { get; init; }

    /// <summary>Where the job is in the pipeline.</summary>
    public required JobStatus Status { get; init; }

    /// <summary>When processing started; null until the job leaves <see cref="JobStatus.Enqueue"/>.</summary>
    public DateTimeOffset? StartTime { get; init; }

    /// <summary>When processing finished; null until the job reaches <see cref="JobStatus.Exit"/>.</summary>
    public DateTimeOffset? EndTime { get; init; }

    /// <summary>How many attempts failed.</summary>
    public int Iteration { get; init; }

    /// <summary>The uploaded object's version (ETag).</summary>
    public string? ObjectVersion { get; init; }

    /// <summary>When the job was created.</summary>
    public DateTimeOffset? CreatedTime { get; init; }

    /// <summary>Why the job ended without finishing; null unless it failed or was cancelled.</summary>
    public string? Error { get; init; }

    /// <summary>Why the most recent attempt failed, if one did.</summary>
    public string? LastError { get; init; }

    /// <summary>When the working stage's lease runs out; null unless a stage is working on the job.</summary>
    public DateTimeOffset? LeaseDeadline { get; init; }

    /// <summary>Why the working stage gave the job back, until the next sweep re-queues it; null otherwise.</summary>
    public string? GivenBack { get; init; }

    /// <summary>The other fields of the hash (result paths, timings, frame count, model, ...).</summary>
    public IReadOnlyDictionary<string, string> Fields { get; init; } = FrozenDictionary<string, string>.Empty;

    /// <summary>How many segments the first stage cut the job into; null until it has.</summary>
    public int? Segments { get; init; }

    /// <summary>The W3C trace id of the job's trace, when its upload was traced (<see cref="JobFields.TraceId"/>).</summary>
    public string? TraceId { get; init; }

    /// <summary>Reads a job from the fields of its hash.</summary>
    /// <exception cref="InvalidDataException">A contract field is missing or malformed.</exception>
    internal static Job FromHash(string key, IReadOnlyDictionary<string, string> hash)
    {
        string Required(string field) =>
            hash.TryGetValue(field, out var value)
                ? value
                : throw new InvalidDataException($"Job hash {key} has no '{field}' field.");

        string? Optional(string field) => hash.TryGetValue(field, out var value) && value.Length > 0 ? value : null;

        DateTimeOffset? Time(string field)
        {
            var text = Optional(field);
            try
            {
                return JobTime.Parse(text);
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"Job hash {key} has '{field}' = '{text}', which is not an ISO 8601 time.", e);
            }
        }

        long Integer(string field) =>
            long.TryParse(Required(field), NumberStyles.None, CultureInfo.InvariantCulture, out var value)
                ? value
                : throw new InvalidDataException($"Job hash {key} has '{field}' = '{hash[field]}', which is not a whole number.");

        var status = Required(JobFields.Status);
        return new Job
        {
            Id = Integer(JobFields.Id),
            User = Required(JobFields.User),
            Path = Required(JobFields.Path),
            Type = Required(JobFields.Type),
            Status = s_statusByName.TryGetValue(status, out var parsed)
                ? parsed
                : throw new InvalidDataException($"Job hash {key} has status '{status}', which is not one of the eight job statuses."),
            StartTime = Time(JobFields.StartTime),
            EndTime = Time(JobFields.EndTime),
            Iteration = checked((int)Integer(JobFields.Iteration)),
            ObjectVersion = Optional(JobFields.ObjectVersion),
            CreatedTime = Time(JobFields.CreatedTime),
            Error = Optional(JobFields.Error),
            LastError = Optional(JobFields.LastError),
            LeaseDeadline = Time(JobFields.LeaseDeadline),
            GivenBack = Optional(JobFields.GivenBack),
            TraceId = Optional(JobFields.TraceId),
            Segments = int.TryParse(Optional(JobFields.Segments), NumberStyles.None, CultureInfo.InvariantCulture, out var segments) ? segments : null,
            Fields = hash.Where(p => !JobFields.IsReserved(p.Key)).ToFrozenDictionary(StringComparer.Ordinal),
        };
    }
}
