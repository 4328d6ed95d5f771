using System.Globalization;
using GEdge.Contracts;
using StackExchange.Redis;

namespace GEdge.JobTable;

/// <summary>The key layout of the job table under one prefix.</summary>
internal sealed class JobKeys
{
    private readonly string _prefix;
    private readonly RedisKey[] _statuses;

    public JobKeys(string prefix)
    {
        _prefix = prefix;
        JobPrefix = $"{prefix}:job:";
        NextId = $"{prefix}:jobs:next-id";
        Leases = $"{prefix}:leases";
        SegmentLeases = $"{prefix}:segment-leases";
        Processes = $"{prefix}:processes";
        UploadsUnderway = $"{prefix}:uploads:underway";
        _statuses = [.. JobStateMachine.Statuses.Select(s => (RedisKey)$"{prefix}:status:{s}")];
    }

    /// <summary>What every job hash key starts with; the id follows.</summary>
    public string JobPrefix { get; }

    /// <summary>The sorted set of the stage processes that say they run, scored by when that stops holding (Unix milliseconds).</summary>
    public RedisKey Processes { get; }

    /// <summary>The sorted set of uploads being stored for a job (<c>bucket/key</c>), scored by when they began (Unix milliseconds).</summary>
    public RedisKey UploadsUnderway { get; }

    /// <summary>The counter that numbers jobs.</summary>
    public RedisKey NextId { get; }

    /// <summary>The sorted set of jobs in a working status, scored by lease deadline (Unix milliseconds).</summary>
    public RedisKey Leases { get; }

    public RedisKey Job(long id) => JobPrefix + id.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The key that maps an uploaded object to its job. The path's length goes first so that no other (path, version)
    /// pair can spell the same key, whatever characters the path or the ETag hold.
    /// </summary>
    public RedisKey Object(string path, string version) =>
        $"{_prefix}:jobs:object:{path.Length.ToString(CultureInfo.InvariantCulture)}:{path}:{version}";

    /// <summary>The sorted set of a user's jobs, scored by id (so by creation order).</summary>
    public RedisKey User(string user) => $"{_prefix}:user:{user}:jobs";

    /// <summary>The sorted set of the jobs in a status, scored by id (so oldest first).</summary>
    public RedisKey Status(JobStatus status) => _statuses[(int)status];

    /// <summary>The list of a job's status changes, oldest first (<c>{status}|{time}</c> entries).</summary>
    public RedisKey History(long id) => Job(id).Append(HistorySuffix);

    /// <summary>What follows a job hash's key to name its history list.</summary>
    public const string HistorySuffix = ":history";

    /// <summary>A job's segments: one hash with each segment's fields under <c>{n}.</c> and the count of segments per status.</summary>
    public RedisKey Segments(long id) => Job(id).Append(":segments");

    /// <summary>The list of a job's segments' status changes, oldest first (<c>{n}|{status}|{time}|{worker}</c> entries).</summary>
    public RedisKey SegmentHistory(long id) => Job(id).Append(":segments:history");

    /// <summary>Who is joining a job's results (a lock with a lease).</summary>
    public RedisKey Join(long id) => Job(id).Append(":join");

    /// <summary>The sorted set of segments in a working status (<c>{id}:{n}</c>), scored by lease deadline (Unix milliseconds).</summary>
    public RedisKey SegmentLeases { get; }

    /// <summary>
    /// The keys a status-changing script declares: the job, the leases, every status set in pipeline order, the job's
    /// history, its segments, their history and the segment leases.
    /// </summary>
    public RedisKey[] ForTransition(long id) => [Job(id), Leases, .. _statuses, History(id), Segments(id), SegmentHistory(id), SegmentLeases];
}
