using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GEdge.JobTable;

/// <summary>
/// The job table: one Redis hash per job plus the indexes that list jobs by user, by status and by lease deadline.
/// Every change is one Lua script, so it is a single atomic compare-and-set on Redis and Garnet alike.
/// </summary>
/// <remarks>One per process: it shares the process's <see cref="IConnectionMultiplexer"/>.</remarks>
public sealed partial class JobTable
{
    /// <summary>The largest page the list methods return.</summary>
    public const int MaxPageSize = 1000;

    private readonly IConnectionMultiplexer _connection;
    private readonly JobTableOptions _options;
    private readonly JobKeys _keys;
    private readonly TimeProvider _time;
    private readonly ILogger<JobTable> _logger;

    /// <summary>Creates the job table over a connection to Redis or Garnet.</summary>
    public JobTable(IConnectionMultiplexer connection, IOptions<JobTableOptions> options, TimeProvider timeProvider, ILogger<JobTable> logger)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Value;
        var problem = _options.Problem();
        if (problem is not null)
            throw new ArgumentException(problem, nameof(options));

        _connection = connection;
        _keys = new JobKeys(_options.KeyPrefix);
        _time = timeProvider;
        _logger = logger;
    }

    private IDatabase Database => _connection.GetDatabase();

    /// <summary>
    /// Creates a job in <see cref="JobStatus.Enqueue"/> with the next number, or returns the job the same upload
    /// (path and object version) already has. Atomic: concurrent submissions of one upload make one job.
    /// </summary>
    public async Task<JobCreation> CreateAsync(NewJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentException.ThrowIfNullOrWhiteSpace(job.User, "job.User");
        ArgumentException.ThrowIfNullOrWhiteSpace(job.Path, "job.Path");
        ArgumentException.ThrowIfNullOrWhiteSpace(job.Type, "job.Type");
        ArgumentException.ThrowIfNullOrWhiteSpace(job.ObjectVersion, "job.ObjectVersion");

        var objectKey = _keys.Object(job.Path, job.ObjectVersion);
        var result = await Database.ScriptEvaluateAsync(
            JobScripts.Create,
            [objectKey, _keys.NextId, _keys.User(job.User), _keys.Status(JobStatus.Enqueue)],
            [_keys.JobPrefix, job.User, job.Path, job.Type, job.ObjectVersion, JobTime.Format(_time.GetUtcNow())]).ConfigureAwait(false);

        var (code, hash) = CodeAndHash(result);
        var stored = Job.FromHash(objectKey.ToString(), hash!);
        var created = code == 1;
        if (created)
            LogCreated(stored.Id, stored.User, stored.Path);
        else
            LogAlreadyExists(stored.Id, stored.Path, job.ObjectVersion);
        return new JobCreation(stored, created);
    }

    /// <summary>Reads one job; null if there is no such job.</summary>
    public async Task<Job?> GetAsync(long id)
    {
        RequireId(id);
        var key = _keys.Job(id);
        var entries = await Database.HashGetAllAsync(key).ConfigureAwait(false);
        return entries.Length == 0 ? null : Job.FromHash(key.ToString(), ToDictionary(entries));
    }

    /// <summary>
    /// The statuses a job has passed through, oldest first, each with the time it entered it: written by the same
    /// scripts that move the job, so it is exactly the sequence of its moves (a retried job shows its way back).
    /// </summary>
    public async Task<IReadOnlyList<JobTransition>> GetHistoryAsync(long id)
    {
        RequireId(id);
        var entries = await Database.ListRangeAsync(_keys.History(id)).ConfigureAwait(false);
        var history = new List<JobTransition>(entries.Length);
        foreach (var entry in entries)
        {
            var text = entry.ToString();
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            if (bar < 0 || !Enum.TryParse<JobStatus>(text.AsSpan(0, bar), out var status) || JobTime.Parse(text[(bar + 1)..]) is not { } time)
            {
                throw new InvalidDataException($"The history of job {id} has a malformed entry '{text}'.");
            }

            history.Add(new JobTransition(status, time));
        }

        return history;
    }

    /// <summary>Lists a user's jobs, newest first, <paramref name="limit"/> at a time after skipping <paramref name="offset"/>.</summary>
    public async Task<JobPage> ListByUserAsync(string user, int offset, int limit)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(user);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        RequirePageSize(limit);

        var db = Database;
        var key = _keys.User(user);
        // Issued together so they share one round trip.
        var total = db.SortedSetLengthAsync(key);
        var ids = db.SortedSetRangeByRankAsync(key, offset, offset + (long)limit - 1, Order.Descending);
        var jobs = await ReadJobsAsync(await ids.ConfigureAwait(false), static _ => true).ConfigureAwait(false);
        return new JobPage(jobs, await total.ConfigureAwait(false), offset, limit);
    }

    /// <summary>Lists up to <paramref name="limit"/> jobs in a status, oldest first.</summary>
    public async Task<IReadOnlyList<Job>> ListByStatusAsync(JobStatus status, int limit)
    {
        RequireDefined(status);
        RequirePageSize(limit);
        var ids = await Database.SortedSetRangeByRankAsync(_keys.Status(status), 0, limit - 1).ConfigureAwait(false);
        // A job may move between reading the index and reading its hash; list only what is still in the status.
        return await ReadJobsAsync(ids, job => job.Status == status).ConfigureAwait(false);
    }

    /// <summary>
    /// Lists up to <paramref name="limit"/> jobs whose working stage's lease ran out at or before <paramref name="now"/>,
    /// earliest deadline first: the stuck-job sweeper's input.
    /// </summary>
    public async Task<IReadOnlyList<Job>> ListExpiredLeasesAsync(DateTimeOffset now, int limit)
    {
        RequirePageSize(limit);
        var ids = await Database.SortedSetRangeByScoreAsync(
            _keys.Leases, double.NegativeInfinity, now.ToUnixTimeMilliseconds(), Exclude.None, Order.Ascending, 0, limit).ConfigureAwait(false);
        return await ReadJobsAsync(ids, job => JobStateMachine.IsWorking(job.Status) && job.LeaseDeadline <= now).ConfigureAwait(false);
    }

    /// <summary>
    /// Moves a job from <paramref name="from"/> to <paramref name="to"/> if it is still in <paramref name="from"/> and the
    /// state machine allows the move, setting <paramref name="fields"/> in the same atomic step. Stamps start_time when the
    /// job first leaves <see cref="JobStatus.Enqueue"/> and end_time on <see cref="JobStatus.Exit"/>; entering a working
    /// status starts a lease of <see cref="JobTableOptions.LeaseDuration"/>, leaving it ends the lease.
    /// </summary>
    /// <returns>Whether the job moved; false leaves it untouched.</returns>
    public async Task<bool> TryTransitionAsync(long id, JobStatus from, JobStatus to, IReadOnlyDictionary<string, string>? fields = null)
    {
        RequireId(id);
        RequireDefined(from);
        RequireDefined(to);
        return await TransitionAsync(id, from, to, ExtraFieldArguments(fields), _options.LeaseDuration).ConfigureAwait(false);
    }

    /// <summary>
    /// Claims a job for the stage that works in <paramref name="working"/>: moves it from the status that stage consumes
    /// and gives it a lease of <paramref name="lease"/> (default <see cref="JobTableOptions.LeaseDuration"/>).
    /// </summary>
    /// <returns>Whether this caller got the job; false if it had already moved (a duplicate or late event).</returns>
    public async Task<bool> TryClaimAsync(long id, JobStatus working, TimeSpan? lease = null)
    {
        RequireId(id);
        var consumed = JobStateMachine.ConsumedBy(working);
        return await TransitionAsync(id, consumed, working, [], RequireLease(lease)).ConfigureAwait(false);
    }

    /// <summary>Extends the lease of the stage working on a job, if the job is still in <paramref name="working"/>.</summary>
    /// <returns>Whether the lease was extended; false means the job moved on and the worker should stop.</returns>
    public async Task<bool> RenewLeaseAsync(long id, JobStatus working, TimeSpan? lease = null)
    {
        RequireId(id);
        RequireWorking(working);
        var deadline = _time.GetUtcNow() + RequireLease(lease);
        var code = (long)await Database.ScriptEvaluateAsync(
            JobScripts.Renew,
            [_keys.Job(id), _keys.Leases],
            [id, working.ToString(), JobTime.Format(deadline), deadline.ToUnixTimeMilliseconds()]).ConfigureAwait(false);
        if (code != JobScripts.Done)
            LogLeaseNotRenewed(id, working);
        return code == JobScripts.Done;
    }

    /// <summary>
    /// Records that the stage working on a job failed. If the job is in <paramref name="working"/>, its iteration goes up
    /// by one and it goes back to the status the stage consumes, to be tried again; when the iteration reaches
    /// <see cref="JobTableOptions.IterationLimit"/>, or the failure is <paramref name="permanent"/>, it goes to
    /// <see cref="JobStatus.Exit"/> with the reason as its error.
    /// </summary>
    public async Task<FailureOutcome> FailAttemptAsync(long id, JobStatus working, string reason, bool permanent = false)
    {
        RequireId(id);
        RequireWorking(working);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);

        var key = _keys.Job(id);
        var result = await Database.ScriptEvaluateAsync(
            JobScripts.Fail,
            _keys.ForTransition(id),
            [id, working.ToString(), reason, JobTime.Format(_time.GetUtcNow()), _options.IterationLimit, permanent ? "1" : "0"]).ConfigureAwait(false);

        var (code, hash) = CodeAndHash(result);
        var job = hash is null ? null : Job.FromHash(key.ToString(), hash);
        switch (code)
        {
            case JobScripts.Done:
                LogRetried(id, job!.Iteration, working, job.Status, reason);
                return new FailureOutcome(FailureResult.Retried, job);
            case JobScripts.Exited:
                LogFailed(id, working, job!.Iteration, reason);
                return new FailureOutcome(FailureResult.Exited, job);
            default:
                LogFailureIgnored(id, working, job?.Status);
                return new FailureOutcome(FailureResult.NotInStatus, job);
        }
    }

    /// <summary>
    /// Ends a job that has not ended (cancellation, input that can never be processed), recording the reason. With
    /// <paramref name="from"/>, only a job still in that status is ended: a compare-and-set, for callers that decided
    /// from the status they read.
    /// </summary>
    /// <returns>Whether the job was ended by this call; false if it had already ended, was not in <paramref name="from"/>, or does not exist.</returns>
    public async Task<bool> ExitWithErrorAsync(long id, string reason, JobStatus? from = null)
    {
        RequireId(id);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        if (from is { } expected)
            RequireDefined(expected);
        RedisValue[] arguments = from is { } status
            ? [id, reason, JobTime.Format(_time.GetUtcNow()), status.ToString()]
            : [id, reason, JobTime.Format(_time.GetUtcNow())];
        var code = (long)await Database.ScriptEvaluateAsync(JobScripts.Exit, _keys.ForTransition(id), arguments).ConfigureAwait(false);
        if (code == JobScripts.Done)
            LogExitedWithError(id, reason);
        else
            LogNotEnded(id, code == JobScripts.Missing ? "no such job" : from is null ? "it has already ended" : $"it is no longer in {from}");
        return code == JobScripts.Done;
    }

    private async Task<bool> TransitionAsync(long id, JobStatus from, JobStatus to, RedisValue[] extraFields, TimeSpan lease)
    {
        var now = _time.GetUtcNow();
        var deadline = now + lease;
        // The lease arguments are used only when `to` is a working status; the script decides, so the rule stays in one place.
        RedisValue[] arguments =
        [
            id, from.ToString(), to.ToString(), JobTime.Format(now),
            JobTime.Format(deadline), deadline.ToUnixTimeMilliseconds(), .. extraFields,
        ];
        var code = (long)await Database.ScriptEvaluateAsync(JobScripts.Transition, _keys.ForTransition(id), arguments).ConfigureAwait(false);
        switch (code)
        {
            case JobScripts.Done:
                LogMoved(id, from, to);
                return true;
            case JobScripts.Illegal:
                LogNotMoved(id, from, to, "the state machine does not allow the move");
                return false;
            case JobScripts.Missing:
                LogNotMoved(id, from, to, "no such job");
                return false;
            default:
                LogNotMoved(id, from, to, "it is no longer in that status");
                return false;
        }
    }

    private async Task<IReadOnlyList<Job>> ReadJobsAsync(RedisValue[] ids, Func<Job, bool> keep)
    {
        var db = Database;
        var keys = Array.ConvertAll(ids, id => _keys.JobPrefix + id.ToString());
        // Issue every read before awaiting any, so they are pipelined on the connection.
        var reads = Array.ConvertAll(keys, key => db.HashGetAllAsync(key));
        var jobs = new List<Job>(ids.Length);
        for (var i = 0; i < reads.Length; i++)
        {
            var entries = await reads[i].ConfigureAwait(false);
            if (entries.Length == 0)
                continue;
            var job = Job.FromHash(keys[i], ToDictionary(entries));
            if (keep(job))
                jobs.Add(job);
        }
        return jobs;
    }

    private TimeSpan RequireLease(TimeSpan? lease)
    {
        var value = lease ?? _options.LeaseDuration;
        return value > TimeSpan.Zero
            ? value
            : throw new ArgumentOutOfRangeException(nameof(lease), value, "A lease must be positive.");
    }

    private static RedisValue[] ExtraFieldArguments(IReadOnlyDictionary<string, string>? fields)
    {
        if (fields is null || fields.Count == 0)
            return [];

        var arguments = new RedisValue[fields.Count * 2];
        var i = 0;
        foreach (var (name, value) in fields)
        {
            if (string.IsNullOrEmpty(name))
                throw new ArgumentException("Extra field names must not be empty.", nameof(fields));
            if (JobFields.IsReserved(name))
                throw new ArgumentException($"'{name}' is maintained by the job table and cannot be set as an extra field.", nameof(fields));
            if (value is null)
                throw new ArgumentException($"Extra field '{name}' has a null value.", nameof(fields));
            arguments[i++] = name;
            arguments[i++] = value;
        }
        return arguments;
    }

    /// <summary>Splits a script's {code, field, value, ...} reply; the hash is null when the reply has no fields.</summary>
    private static (long Code, Dictionary<string, string>? Hash) CodeAndHash(RedisResult result)
    {
        var items = (RedisResult[])result!;
        if (items.Length < 3)
            return ((long)items[0], null);

        var hash = new Dictionary<string, string>((items.Length - 1) / 2, StringComparer.Ordinal);
        for (var i = 1; i + 1 < items.Length; i += 2)
            hash[(string)items[i]!] = (string?)items[i + 1] ?? "";
        return ((long)items[0], hash);
    }

    private static Dictionary<string, string> ToDictionary(HashEntry[] entries)
    {
        var hash = new Dictionary<string, string>(entries.Length, StringComparer.Ordinal);
        foreach (var entry in entries)
            hash[entry.Name.ToString()] = entry.Value.ToString();
        return hash;
    }

    private static void RequireId(long id) =>
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(id);

    private static void RequirePageSize(int limit, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(limit))] string? name = null)
    {
        if (limit is < 1 or > MaxPageSize)
            throw new ArgumentOutOfRangeException(name, limit, $"A page holds 1 to {MaxPageSize} jobs.");
    }

    private static void RequireDefined(JobStatus status, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(status))] string? name = null)
    {
        if (!Enum.IsDefined(status))
            throw new ArgumentOutOfRangeException(name, status, "Not one of the eight job statuses.");
    }

    private static void RequireWorking(JobStatus working)
    {
        if (!JobStateMachine.IsWorking(working))
            throw new ArgumentException(
                $"{working} is not a working status; only {string.Join(", ", JobStateMachine.WorkingStatuses)} hold a lease.",
                nameof(working));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created job {JobId} for {User} from {Path}")]
    private partial void LogCreated(long jobId, string user, string path);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} already exists for {Path} version {ObjectVersion}")]
    private partial void LogAlreadyExists(long jobId, string path, string objectVersion);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} moved from {From} to {To}")]
    private partial void LogMoved(long jobId, JobStatus from, JobStatus to);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} not moved from {From} to {To}: {Reason}")]
    private partial void LogNotMoved(long jobId, JobStatus from, JobStatus to, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} not ended: {Reason}")]
    private partial void LogNotEnded(long jobId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Failed attempt of job {JobId} in {Working} ignored: the job is in {Status}")]
    private partial void LogFailureIgnored(long jobId, JobStatus working, JobStatus? status);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Lease of job {JobId} not renewed: it is no longer in {Working}")]
    private partial void LogLeaseNotRenewed(long jobId, JobStatus working);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} attempt {Iteration} failed in {Working}; back to {Status} to retry: {Reason}")]
    private partial void LogRetried(long jobId, int iteration, JobStatus working, JobStatus status, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed in {Working} after {Iteration} attempts: {Reason}")]
    private partial void LogFailed(long jobId, JobStatus working, int iteration, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} ended with error: {Reason}")]
    private partial void LogExitedWithError(long jobId, string reason);
}
