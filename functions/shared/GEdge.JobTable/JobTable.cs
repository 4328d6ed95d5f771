using System.Globalization;
using GEdge.Contracts;
using GEdge.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using StackExchange.Redis;

namespace GEdge.JobTable;

/// <summary>
/// The job table: one Redis hash per job plus the indexes that list jobs by user, by status and by lease deadline.
/// Every change is one Lua script, so it is a single atomic compare-and-set on Redis and Garnet alike.
/// </summary>
/// <remarks>
/// One per process: it shares the process's <see cref="IConnectionMultiplexer"/>. Every Redis call runs through
/// <see cref="RedisAsync"/>, which retries transient faults with backoff; <see cref="JobTableResilience"/> says why each
/// call is safe to retry.
/// </remarks>
public sealed partial class JobTable
{
    /// <summary>
    /// The job table's activities: <c>job table connection</c> (a process connecting to the Redis server), and the embedded
    /// server's (GEdge.JobTable.Embedded), for whoever listens (start-up timings, a tracer).
    /// </summary>
    public static readonly System.Diagnostics.ActivitySource Activities = new("GEdge.JobTable");

    /// <summary>The largest page the list methods return.</summary>
    public const int MaxPageSize = 1000;

    private readonly IConnectionMultiplexer _connection;
    private readonly JobTableOptions _options;
    private readonly JobKeys _keys;
    private readonly TimeProvider _time;
    private readonly ILogger<JobTable> _logger;
    private readonly ResiliencePipeline _retry;
    private readonly GEdgeMetrics _metrics;

    /// <summary>Creates the job table over a connection to Redis or Garnet; <paramref name="metrics"/> counts the status changes it makes.</summary>
    public JobTable(IConnectionMultiplexer connection, IOptions<JobTableOptions> options, TimeProvider timeProvider, GEdgeMetrics metrics, ILogger<JobTable> logger)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Value;
        var problem = _options.Problem();
        if (problem is not null)
            throw new ArgumentException(problem, nameof(options));

        _connection = connection;
        _keys = new JobKeys(_options.KeyPrefix);
        _time = timeProvider;
        _metrics = metrics;
        _logger = logger;
        _retry = JobTableResilience.Create(_options, args =>
        {
            LogRedisRetry(args.Outcome.Exception, args.AttemptNumber + 1, args.RetryDelay);
            return ValueTask.CompletedTask;
        });
    }

    private IDatabase Database => _connection.GetDatabase();

    /// <summary>
    /// Runs <paramref name="command"/> (one Redis call, or several sent together) under the job table's retry pipeline.
    /// Every call goes through here; a new one must be safe to repeat (see <see cref="JobTableResilience"/>).
    /// </summary>
    private async Task<T> RedisAsync<T>(Func<IDatabase, Task<T>> command) =>
        await _retry.ExecuteAsync(
            static async (state, _) => await state.command(state.Database).ConfigureAwait(false),
            (command, Database)).ConfigureAwait(false);

    // A job sent back by a failed attempt is counted as entering the status it is in now, unless it stayed where it was
    // (a join's failure leaves the job waiting in the same status).
    private void EnteredIfMoved(JobStatus from, JobStatus now)
    {
        if (now != from)
            _metrics.JobEntered(now);
    }

    // One id per logical change, the same for each of its retries: how a retried script recognizes its own change.
    private static string NewChangeId() => Guid.NewGuid().ToString("N");

    /// <summary>
    /// Says that <paramref name="process"/> runs, for <paramref name="ttl"/> from now: a process says it again well
    /// before that, and one that stops saying it (killed, scaled away) drops out by itself once it has lapsed.
    /// </summary>
    public async Task AnnounceProcessAsync(StageProcess process, TimeSpan ttl)
    {
        ArgumentNullException.ThrowIfNull(process);
        var until = (_time.GetUtcNow() + ttl).ToUnixTimeMilliseconds();
        await RedisAsync(db => db.SortedSetAddAsync(_keys.Processes, process.Member, until)).ConfigureAwait(false);
    }

    /// <summary>Says that <paramref name="process"/> no longer runs (it is stopping).</summary>
    public async Task WithdrawProcessAsync(StageProcess process)
    {
        ArgumentNullException.ThrowIfNull(process);
        await RedisAsync(db => db.SortedSetRemoveAsync(_keys.Processes, process.Member)).ConfigureAwait(false);
    }

    /// <summary>The stage processes that say they run now; those whose word has lapsed are dropped.</summary>
    public async Task<IReadOnlyList<StageProcess>> ListProcessesAsync()
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var members = await RedisAsync(async db =>
        {
            await db.SortedSetRemoveRangeByScoreAsync(_keys.Processes, double.NegativeInfinity, now, Exclude.Stop).ConfigureAwait(false);
            return await db.SortedSetRangeByScoreAsync(_keys.Processes, now, double.PositiveInfinity).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return [.. members.Select(m => StageProcess.FromMember(m.ToString())).OfType<StageProcess>()];
    }

    /// <summary>
    /// Notes that the upload <paramref name="bucket"/>/<paramref name="key"/> is being stored to become a job, before its
    /// first byte is written; <see cref="EndUploadAsync"/> clears it once the job exists (or the upload was removed). One
    /// still noted long after it began belongs to a process that died between the two (<see cref="ListUploadsUnderwayAsync"/>):
    /// nothing else points at what it stored.
    /// </summary>
    public async Task BeginUploadAsync(string bucket, string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(bucket);
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        await RedisAsync(db => db.SortedSetAddAsync(_keys.UploadsUnderway, $"{bucket}/{key}", _time.GetUtcNow().ToUnixTimeMilliseconds())).ConfigureAwait(false);
    }

    /// <summary>Clears the note of <see cref="BeginUploadAsync"/>: the upload became a job, or is gone.</summary>
    public async Task EndUploadAsync(string bucket, string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(bucket);
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        await RedisAsync(db => db.SortedSetRemoveAsync(_keys.UploadsUnderway, $"{bucket}/{key}")).ConfigureAwait(false);
    }

    /// <summary>The job made for the upload <paramref name="path"/> (<c>bucket/key</c>) at object version <paramref name="version"/>; null if none was.</summary>
    public async Task<long?> FindByUploadAsync(string path, string version)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        var id = await RedisAsync(db => db.StringGetAsync(_keys.Object(path, version))).ConfigureAwait(false);
        return id.IsNull ? null : (long)id;
    }

    /// <summary>Up to <paramref name="limit"/> uploads noted as underway that began before <paramref name="before"/>, oldest first, as (bucket, key).</summary>
    public async Task<IReadOnlyList<(string Bucket, string Key)>> ListUploadsUnderwayAsync(DateTimeOffset before, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var members = await RedisAsync(db => db.SortedSetRangeByScoreAsync(
            _keys.UploadsUnderway, double.NegativeInfinity, before.ToUnixTimeMilliseconds(), Exclude.Stop, Order.Ascending, 0, limit)).ConfigureAwait(false);
        // A bucket name holds no '/', so the first one ends it.
        return [.. members.Select(m => m.ToString().Split('/', 2)).Where(parts => parts.Length == 2).Select(parts => (parts[0], parts[1]))];
    }

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
        RedisKey[] keys = [objectKey, _keys.NextId, _keys.User(job.User), _keys.Status(JobStatus.Enqueue)];
        RedisValue[] arguments = [_keys.JobPrefix, job.User, job.Path, job.Type, job.ObjectVersion, JobTime.Format(_time.GetUtcNow()), job.TraceId ?? string.Empty];
        // A retry after a lost reply finds the job the first attempt made (then reported as not new; the intake announces
        // a job still in Enqueue either way).
        var result = await RedisAsync(db => db.ScriptEvaluateAsync(JobScripts.Create, keys, arguments)).ConfigureAwait(false);

        var (code, hash) = CodeAndHash(result);
        var stored = Job.FromHash(objectKey.ToString(), hash!);
        var created = code == 1;
        if (created)
        {
            _metrics.JobEntered(JobStatus.Enqueue);
            LogCreated(stored.Id, stored.User, stored.Path);
        }
        else
            LogAlreadyExists(stored.Id, stored.Path, job.ObjectVersion);
        return new JobCreation(stored, created);
    }

    /// <summary>Reads one job; null if there is no such job.</summary>
    public async Task<Job?> GetAsync(long id)
    {
        RequireId(id);
        var key = _keys.Job(id);
        var entries = await RedisAsync(db => db.HashGetAllAsync(key)).ConfigureAwait(false);
        return entries.Length == 0 ? null : Job.FromHash(key.ToString(), ToDictionary(entries));
    }

    /// <summary>
    /// The statuses a job has passed through, oldest first, each with the time it entered it: written by the same
    /// scripts that move the job, so it is exactly the sequence of its moves (a retried job shows its way back).
    /// </summary>
    public async Task<IReadOnlyList<JobTransition>> GetHistoryAsync(long id)
    {
        RequireId(id);
        var entries = await RedisAsync(db => db.ListRangeAsync(_keys.History(id))).ConfigureAwait(false);
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

        var key = _keys.User(user);
        var (total, ids) = await RedisAsync(async db =>
        {
            // Issued together so they share one round trip.
            var total = db.SortedSetLengthAsync(key);
            var ids = db.SortedSetRangeByRankAsync(key, offset, offset + (long)limit - 1, Order.Descending);
            return (await total.ConfigureAwait(false), await ids.ConfigureAwait(false));
        }).ConfigureAwait(false);
        var jobs = await ReadJobsAsync(ids, static _ => true).ConfigureAwait(false);
        return new JobPage(jobs, total, offset, limit);
    }

    /// <summary>Lists up to <paramref name="limit"/> jobs in a status, oldest first (or, with <paramref name="newestFirst"/>, newest first).</summary>
    public async Task<IReadOnlyList<Job>> ListByStatusAsync(JobStatus status, int limit, bool newestFirst = false)
    {
        RequireDefined(status);
        RequirePageSize(limit);
        var order = newestFirst ? Order.Descending : Order.Ascending;
        var ids = await RedisAsync(db => db.SortedSetRangeByRankAsync(_keys.Status(status), 0, limit - 1, order)).ConfigureAwait(false);
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
        var ids = await RedisAsync(db => db.SortedSetRangeByScoreAsync(
            _keys.Leases, double.NegativeInfinity, now.ToUnixTimeMilliseconds(), Exclude.None, Order.Ascending, 0, limit)).ConfigureAwait(false);
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
        var code = (long)await RedisAsync(db => db.ScriptEvaluateAsync(
            JobScripts.Renew,
            [_keys.Job(id), _keys.Leases],
            [id, working.ToString(), JobTime.Format(deadline), deadline.ToUnixTimeMilliseconds()])).ConfigureAwait(false);
        if (code != JobScripts.Done)
            LogLeaseNotRenewed(id, working);
        return code == JobScripts.Done;
    }

    /// <summary>
    /// Records that the stage working on a job failed. If the job is in <paramref name="working"/>, its iteration goes up
    /// by one and it goes back to the status the stage consumes, to be tried again; when the iteration reaches
    /// <see cref="JobTableOptions.IterationLimit"/> it goes to <see cref="JobStatus.Exit"/> with the reason as its error.
    /// A <paramref name="permanent"/> failure goes to Exit at once, its iteration unchanged: nothing is restarted.
    /// </summary>
    public async Task<FailureOutcome> FailAttemptAsync(long id, JobStatus working, string reason, bool permanent = false)
    {
        RequireId(id);
        RequireWorking(working);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);

        return await RecordFailureAsync(JobScripts.Fail, id, working, reason, permanent).ConfigureAwait(false);
    }

    // Runs a failure-recording script (Fail, FailWaiting: same arguments, same answers) and reads its answer.
    private async Task<FailureOutcome> RecordFailureAsync(string script, long id, JobStatus status, string reason, bool permanent)
    {
        RedisValue[] arguments =
            [id, status.ToString(), reason, JobTime.Format(_time.GetUtcNow()), _options.IterationLimit, permanent ? "1" : "0", NewChangeId()];
        var result = await RedisAsync(db => db.ScriptEvaluateAsync(script, _keys.ForTransition(id), arguments)).ConfigureAwait(false);

        var (code, hash) = CodeAndHash(result);
        var job = hash is null ? null : Job.FromHash(_keys.Job(id).ToString(), hash);
        switch (code)
        {
            case JobScripts.Done:
                LogRetried(id, job!.Iteration, status, job.Status, reason);
                EnteredIfMoved(status, job.Status);
                return new FailureOutcome(FailureResult.Retried, job);
            case JobScripts.Exited:
                LogFailed(id, status, job!.Iteration, reason);
                _metrics.JobEntered(JobStatus.Exit);
                return new FailureOutcome(FailureResult.Exited, job);
            case JobScripts.Requeued:
                LogRequeued(id, status, job!.Status);
                EnteredIfMoved(status, job.Status);
                return new FailureOutcome(FailureResult.Requeued, job);
            default:
                LogFailureIgnored(id, status, job?.Status);
                return new FailureOutcome(FailureResult.NotInStatus, job);
        }
    }

    /// <summary>
    /// Gives back a job the stage working in <paramref name="working"/> cannot finish (its process was told to stop): the
    /// lease ends now and <paramref name="reason"/> is recorded, and the job keeps its status until the next sweep, whose
    /// <see cref="FailAttemptAsync"/> returns it to the status the stage consumes <em>without</em> counting an attempt
    /// (<see cref="FailureResult.Requeued"/>): nothing failed. Leaving the announcement to the sweep, rather than to the
    /// stopping process, means it is not sent while nobody may be there to take it.
    /// </summary>
    /// <returns>Whether the job was given back; false if it is no longer in <paramref name="working"/>.</returns>
    public async Task<bool> GiveBackAsync(long id, JobStatus working, string reason)
    {
        RequireId(id);
        RequireWorking(working);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var now = _time.GetUtcNow();
        RedisValue[] arguments = [id, working.ToString(), reason, JobTime.Format(now), now.ToUnixTimeMilliseconds()];
        var code = (long)await RedisAsync(db => db.ScriptEvaluateAsync(JobScripts.GiveBack, _keys.ForTransition(id), arguments)).ConfigureAwait(false);
        if (code == JobScripts.Done)
            LogGivenBack(id, working, reason);
        else
            LogNotGivenBack(id, working);
        return code == JobScripts.Done;
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
        var change = NewChangeId();
        RedisValue[] arguments = from is { } status
            ? [id, reason, JobTime.Format(_time.GetUtcNow()), change, status.ToString()]
            : [id, reason, JobTime.Format(_time.GetUtcNow()), change];
        var code = (long)await RedisAsync(db => db.ScriptEvaluateAsync(JobScripts.Exit, _keys.ForTransition(id), arguments)).ConfigureAwait(false);
        if (code == JobScripts.Done)
        {
            _metrics.JobEntered(JobStatus.Exit);
            LogExitedWithError(id, reason);
        }
        else
            LogNotEnded(id, code == JobScripts.Missing ? "no such job" : from is null ? "it has already ended" : $"it is no longer in {from}");
        return code == JobScripts.Done;
    }

    /// <summary>
    /// Deletes a job that has ended (<see cref="JobStatus.Exit"/>): its record, its history and its place in the indexes,
    /// so it is listed and found no more. A job that has not ended is left as it is: end it first (<see cref="ExitWithErrorAsync"/>).
    /// Its objects (upload, results) are the caller's to delete.
    /// </summary>
    /// <returns>Whether the job is gone: true when it was deleted, or did not exist; false when it has not ended.</returns>
    public async Task<bool> DeleteAsync(long id)
    {
        RequireId(id);
        var job = await GetAsync(id).ConfigureAwait(false);
        if (job is null)
        {
            return true;
        }

        RedisKey[] keys =
        [
            _keys.Job(id), _keys.History(id), _keys.User(job.User), _keys.Status(JobStatus.Exit),
            _keys.Object(job.Path, job.ObjectVersion ?? string.Empty), _keys.Segments(id), _keys.SegmentHistory(id), _keys.Join(id),
        ];
        var code = (long)await RedisAsync(db => db.ScriptEvaluateAsync(JobScripts.Delete, keys, [id])).ConfigureAwait(false);
        if (code == JobScripts.NotInStatus)
        {
            LogNotDeleted(id, job.Status);
            return false;
        }

        LogDeleted(id, job.User);
        return true;
    }

    /// <summary>
    /// Cuts a job the first stage has claimed into segments that start at <paramref name="starts"/> (seconds into the
    /// video), each waiting for the first stage. From now on the job's status follows its least advanced segment's (a
    /// segment waiting for the first stage counts as in it), and its iteration is the highest of its segments'.
    /// <paramref name="fields"/> are set on the job in the same step.
    /// </summary>
    /// <returns>Whether the job was cut; false when it is not in the first working status (taken back, ended) or was cut already.</returns>
    public async Task<bool> SplitAsync(long id, IReadOnlyList<double> starts, IReadOnlyDictionary<string, string>? fields = null)
    {
        RequireId(id);
        ArgumentNullException.ThrowIfNull(starts);
        ArgumentOutOfRangeException.ThrowIfZero(starts.Count);
        RedisValue[] arguments =
        [
            id, JobTime.Format(_time.GetUtcNow()), NewChangeId(), starts.Count,
            .. starts.Select(start => (RedisValue)start.ToString("0.######", CultureInfo.InvariantCulture)),
            .. ExtraFieldArguments(fields),
        ];
        var code = (long)await RedisAsync(db => db.ScriptEvaluateAsync(JobScripts.Split, _keys.ForTransition(id), arguments)).ConfigureAwait(false);
        if (code == JobScripts.Done)
        {
            _metrics.SegmentsEntered(JobStateMachine.ConsumedBy(PipelineTopology.First.Working), starts.Count);
            LogSplit(id, starts.Count);
        }
        else
            LogNotSplit(id);
        return code == JobScripts.Done;
    }

    /// <summary>A job's segments in order, empty until it is cut.</summary>
    public async Task<IReadOnlyList<JobSegment>> GetSegmentsAsync(long id)
    {
        RequireId(id);
        var key = _keys.Segments(id);
        var entries = await RedisAsync(db => db.HashGetAllAsync(key)).ConfigureAwait(false);
        return JobSegment.FromHash(key.ToString(), ToDictionary(entries));
    }

    /// <summary>The status changes of a job's segments, oldest first, each with the time and the process that made it.</summary>
    public async Task<IReadOnlyList<SegmentTransition>> GetSegmentHistoryAsync(long id)
    {
        RequireId(id);
        var entries = await RedisAsync(db => db.ListRangeAsync(_keys.SegmentHistory(id))).ConfigureAwait(false);
        var history = new List<SegmentTransition>(entries.Length);
        foreach (var entry in entries)
        {
            var parts = entry.ToString().Split('|');
            if (parts.Length != 4
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var segment)
                || !Enum.TryParse<JobStatus>(parts[1], out var status)
                || JobTime.Parse(parts[2]) is not { } time)
            {
                throw new InvalidDataException($"The segment history of job {id} has a malformed entry '{entry}'.");
            }

            history.Add(new SegmentTransition(segment, status, time, parts[3].Length > 0 ? parts[3] : null));
        }

        return history;
    }

    /// <summary>
    /// Claims segment <paramref name="segment"/> of a job for the stage that works in <paramref name="working"/>: moves
    /// it from the status that stage consumes, with a lease, unless the job has ended.
    /// </summary>
    /// <returns>What the move did; <see cref="SegmentMove.Moved"/> false when the segment had moved (a duplicate or late event) or the job ended.</returns>
    public Task<SegmentMove> TryClaimSegmentAsync(long id, int segment, JobStatus working, string worker, TimeSpan? lease = null) =>
        SegmentTransitionAsync(id, segment, JobStateMachine.ConsumedBy(RequireWorkingStatus(working)), working, [], worker, RequireLease(lease));

    /// <summary>
    /// Records that the stage working on a segment completed it: the segment moves from <paramref name="working"/> to its
    /// stage's completion with <paramref name="fields"/> set on it, and the job follows its least advanced segment.
    /// </summary>
    public Task<SegmentMove> TryCompleteSegmentAsync(long id, int segment, JobStatus working, string worker, IReadOnlyDictionary<string, string>? fields = null) =>
        SegmentTransitionAsync(id, segment, working, JobStateMachine.CompletionOf(RequireWorkingStatus(working)), ExtraFieldArguments(fields, SegmentFields.IsReserved), worker, _options.LeaseDuration);

    /// <summary>Extends the lease of the stage working on a segment, while the segment is in <paramref name="working"/> and its job has not ended.</summary>
    public async Task<bool> RenewSegmentLeaseAsync(long id, int segment, JobStatus working, TimeSpan? lease = null)
    {
        RequireId(id);
        ArgumentOutOfRangeException.ThrowIfNegative(segment);
        RequireWorking(working);
        var deadline = _time.GetUtcNow() + RequireLease(lease);
        var code = (long)await RedisAsync(db => db.ScriptEvaluateAsync(
            JobScripts.SegmentRenew,
            [_keys.Job(id), _keys.Segments(id), _keys.SegmentLeases],
            [id, segment, working.ToString(), JobTime.Format(deadline), deadline.ToUnixTimeMilliseconds()])).ConfigureAwait(false);
        return code == JobScripts.Done;
    }

    /// <summary>
    /// Records that the stage working on a segment failed, as <see cref="FailAttemptAsync"/> does for a job: the segment
    /// goes back to the status its stage consumes with its iteration up by one, and the job's iteration is the highest
    /// of its segments'; at <see cref="JobTableOptions.IterationLimit"/>, or for a <paramref name="permanent"/> failure,
    /// the job ends with <paramref name="reason"/> and its other segments stop.
    /// </summary>
    public async Task<SegmentFailureOutcome> FailSegmentAttemptAsync(long id, int segment, JobStatus working, string reason, bool permanent = false)
    {
        RequireId(id);
        ArgumentOutOfRangeException.ThrowIfNegative(segment);
        RequireWorking(working);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        RedisValue[] arguments =
            [id, segment, working.ToString(), reason, JobTime.Format(_time.GetUtcNow()), _options.IterationLimit, permanent ? "1" : "0", NewChangeId()];
        var result = await RedisAsync(db => db.ScriptEvaluateAsync(JobScripts.SegmentFail, _keys.ForTransition(id), arguments)).ConfigureAwait(false);
        var items = (RedisResult[])result!;
        var code = (long)items[0];
        if (items.Length < 2)
        {
            return new SegmentFailureOutcome(FailureResult.NotInStatus, null, 0);
        }

        var iteration = (int)(long)items[1];
        var hash = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 2; i + 1 < items.Length; i += 2)
            hash[(string)items[i]!] = (string?)items[i + 1] ?? "";
        var job = Job.FromHash(_keys.Job(id).ToString(), hash);
        var outcome = code switch
        {
            JobScripts.Done => FailureResult.Retried,
            JobScripts.Exited => FailureResult.Exited,
            JobScripts.Requeued => FailureResult.Requeued,
            _ => FailureResult.NotInStatus,
        };
        if (outcome is FailureResult.Retried or FailureResult.Requeued)
            _metrics.SegmentsEntered(JobStateMachine.ConsumedBy(working));
        else if (outcome == FailureResult.Exited)
            _metrics.JobEntered(JobStatus.Exit);
        LogSegmentFailure(id, segment, working, outcome, iteration, reason);
        return new SegmentFailureOutcome(outcome, job, iteration);
    }

    /// <summary>
    /// Records a failed attempt at the work a job waits for in <paramref name="status"/> with no stage holding a lease (the
    /// join of its segments' results): the iteration goes up and the job stays in <paramref name="status"/> to be tried
    /// again; at <see cref="JobTableOptions.IterationLimit"/>, or when <paramref name="permanent"/>, it ends with
    /// <paramref name="reason"/>.
    /// </summary>
    public async Task<FailureOutcome> FailWaitingAttemptAsync(long id, JobStatus status, string reason, bool permanent = false)
    {
        RequireId(id);
        RequireDefined(status);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return await RecordFailureAsync(JobScripts.FailWaiting, id, status, reason, permanent).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes the join of a job's results for <paramref name="lease"/>, so that of two deliveries of its event one joins and
    /// the other leaves it (the join holds no status of its own to claim). Returns the holder's token, or null when
    /// another holds it. A lock not given back (its process died) lapses with its lease.
    /// </summary>
    public async Task<string?> TryTakeJoinAsync(long id, string worker, TimeSpan lease)
    {
        RequireId(id);
        ArgumentException.ThrowIfNullOrWhiteSpace(worker);
        var key = _keys.Join(id);
        var token = $"{worker}/{Guid.NewGuid():N}";
        // A retry after a lost reply finds its own token in the key rather than "taken".
        return await RedisAsync(async db =>
            await db.LockTakeAsync(key, token, RequireLease(lease)).ConfigureAwait(false) || await db.StringGetAsync(key).ConfigureAwait(false) == token
                ? token
                : null).ConfigureAwait(false);
    }

    /// <summary>Gives back the join of a job taken with <paramref name="token"/> (<see cref="TryTakeJoinAsync"/>).</summary>
    public async Task ReleaseJoinAsync(long id, string token)
    {
        RequireId(id);
        ArgumentException.ThrowIfNullOrWhiteSpace(token);
        await RedisAsync(db => db.LockReleaseAsync(_keys.Join(id), token)).ConfigureAwait(false);
    }

    /// <summary>Gives a segment back from the stage working on it, as <see cref="GiveBackAsync"/> does a job.</summary>
    public async Task<bool> GiveBackSegmentAsync(long id, int segment, JobStatus working, string reason)
    {
        RequireId(id);
        ArgumentOutOfRangeException.ThrowIfNegative(segment);
        RequireWorking(working);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var now = _time.GetUtcNow();
        RedisValue[] arguments = [id, segment, working.ToString(), reason, JobTime.Format(now), now.ToUnixTimeMilliseconds()];
        var code = (long)await RedisAsync(db => db.ScriptEvaluateAsync(JobScripts.SegmentGiveBack, _keys.ForTransition(id), arguments)).ConfigureAwait(false);
        if (code == JobScripts.Done)
            LogSegmentGivenBack(id, segment, working, reason);
        return code == JobScripts.Done;
    }

    /// <summary>
    /// Lists up to <paramref name="limit"/> segments whose working stage's lease ran out at or before <paramref name="now"/>,
    /// earliest deadline first, with their jobs' ids: the sweeper's input for jobs cut into segments.
    /// </summary>
    public async Task<IReadOnlyList<(long JobId, JobSegment Segment)>> ListExpiredSegmentLeasesAsync(DateTimeOffset now, int limit)
    {
        RequirePageSize(limit);
        var members = await RedisAsync(db => db.SortedSetRangeByScoreAsync(
            _keys.SegmentLeases, double.NegativeInfinity, now.ToUnixTimeMilliseconds(), Exclude.None, Order.Ascending, 0, limit)).ConfigureAwait(false);
        var expired = new List<(long, JobSegment)>(members.Length);
        foreach (var member in members)
        {
            var text = member.ToString();
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0
                || !long.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                continue;
            }

            var segments = await GetSegmentsAsync(id).ConfigureAwait(false);
            if (index < segments.Count && segments[index] is { } segment && JobStateMachine.IsWorking(segment.Status) && segment.LeaseDeadline <= now)
            {
                expired.Add((id, segment));
            }
        }

        return expired;
    }

    private async Task<SegmentMove> SegmentTransitionAsync(long id, int segment, JobStatus from, JobStatus to, RedisValue[] extraFields, string worker, TimeSpan lease)
    {
        RequireId(id);
        ArgumentOutOfRangeException.ThrowIfNegative(segment);
        ArgumentException.ThrowIfNullOrWhiteSpace(worker);
        var now = _time.GetUtcNow();
        var deadline = now + lease;
        RedisValue[] arguments =
        [
            id, segment, from.ToString(), to.ToString(), JobTime.Format(now),
            JobTime.Format(deadline), deadline.ToUnixTimeMilliseconds(), NewChangeId(), worker, .. extraFields,
        ];
        var code = (long)await RedisAsync(db => db.ScriptEvaluateAsync(JobScripts.SegmentTransition, _keys.ForTransition(id), arguments)).ConfigureAwait(false);
        var moved = code is JobScripts.Done or JobScripts.JobMoved;
        if (moved)
        {
            // A segment moves one status on, so a job that followed it is now in the same one.
            _metrics.SegmentsEntered(to);
            if (code == JobScripts.JobMoved)
                _metrics.JobEntered(to);
            LogSegmentMoved(id, segment, from, to);
        }
        else
            LogSegmentNotMoved(id, segment, from, to, code switch
            {
                JobScripts.Illegal => "the state machine does not allow the move",
                JobScripts.Missing => "no such job or segment",
                _ => "it is no longer in that status, or its job has ended",
            });
        return new SegmentMove(moved, code == JobScripts.JobMoved);
    }

    private async Task<bool> TransitionAsync(long id, JobStatus from, JobStatus to, RedisValue[] extraFields, TimeSpan lease)
    {
        var now = _time.GetUtcNow();
        var deadline = now + lease;
        // The lease arguments are used only when `to` is a working status; the script decides, so the rule stays in one place.
        RedisValue[] arguments =
        [
            id, from.ToString(), to.ToString(), JobTime.Format(now),
            JobTime.Format(deadline), deadline.ToUnixTimeMilliseconds(), NewChangeId(), .. extraFields,
        ];
        var code = (long)await RedisAsync(db => db.ScriptEvaluateAsync(JobScripts.Transition, _keys.ForTransition(id), arguments)).ConfigureAwait(false);
        switch (code)
        {
            case JobScripts.Done:
                _metrics.JobEntered(to);
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
        var keys = Array.ConvertAll(ids, id => _keys.JobPrefix + id.ToString());
        // Issue every read before awaiting any, so they are pipelined on the connection.
        var hashes = await RedisAsync(db => Task.WhenAll(Array.ConvertAll(keys, key => db.HashGetAllAsync(key)))).ConfigureAwait(false);
        var jobs = new List<Job>(ids.Length);
        for (var i = 0; i < hashes.Length; i++)
        {
            var entries = hashes[i];
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

    private static RedisValue[] ExtraFieldArguments(IReadOnlyDictionary<string, string>? fields) =>
        ExtraFieldArguments(fields, JobFields.IsReserved);

    private static RedisValue[] ExtraFieldArguments(IReadOnlyDictionary<string, string>? fields, Func<string, bool> isReserved)
    {
        if (fields is null || fields.Count == 0)
            return [];

        var arguments = new RedisValue[fields.Count * 2];
        var i = 0;
        foreach (var (name, value) in fields)
        {
            if (string.IsNullOrEmpty(name))
                throw new ArgumentException("Extra field names must not be empty.", nameof(fields));
            if (isReserved(name))
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

    private static JobStatus RequireWorkingStatus(JobStatus working)
    {
        RequireWorking(working);
        return working;
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} given back by its {Working} stage: {Reason}")]
    private partial void LogGivenBack(long jobId, JobStatus working, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} not given back: it is no longer in {Working}")]
    private partial void LogNotGivenBack(long jobId, JobStatus working);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} given back by {Working} is back in {Status}; no attempt counted")]
    private partial void LogRequeued(long jobId, JobStatus working, JobStatus status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A job table call failed transiently; retry {Attempt} in {Delay}")]
    private partial void LogRedisRetry(Exception? exception, int attempt, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} of {User} deleted")]
    private partial void LogDeleted(long jobId, string user);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} not deleted: it is in {Status}, not Exit")]
    private partial void LogNotDeleted(long jobId, JobStatus status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} cut into {Segments} segments")]
    private partial void LogSplit(long jobId, int segments);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} not cut: it is no longer being cut, or was cut already")]
    private partial void LogNotSplit(long jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} segment {Segment} moved from {From} to {To}")]
    private partial void LogSegmentMoved(long jobId, int segment, JobStatus from, JobStatus to);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} segment {Segment} not moved from {From} to {To}: {Reason}")]
    private partial void LogSegmentNotMoved(long jobId, int segment, JobStatus from, JobStatus to, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} segment {Segment} attempt in {Working} failed ({Outcome}, segment iteration {Iteration}): {Reason}")]
    private partial void LogSegmentFailure(long jobId, int segment, JobStatus working, FailureResult outcome, int iteration, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} segment {Segment} given back by its {Working} stage: {Reason}")]
    private partial void LogSegmentGivenBack(long jobId, int segment, JobStatus working, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} ended with error: {Reason}")]
    private partial void LogExitedWithError(long jobId, string reason);
}
