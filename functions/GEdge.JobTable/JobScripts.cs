namespace GEdge.JobTable;

/// <summary>
/// The Lua scripts that change jobs. Each runs as one atomic step on the server, so a compare-and-set and its
/// bookkeeping (status sets, lease set, timestamps) can never be seen half done. The state machine and the field
/// names are spliced in from <see cref="JobStateMachine"/> and <see cref="JobFields"/>, so the rules live in one place.
/// </summary>
/// <remarks>
/// Every key a script touches is passed in KEYS, which Garnet needs to lock them (it runs scripts as transactions only
/// over the declared keys). The one exception is the new job's hash and history in <see cref="Create"/>: their names come
/// from the counter inside the script, and no other client can reach those keys before the script returns its id.
/// Scripts must run on Redis (Lua 5.1) and Garnet (Lua 5.4) alike, hence the <c>unpack</c> shim and string ids.
/// </remarks>
internal static class JobScripts
{
    /// <summary>The code a status-changing script returns: no such job.</summary>
    public const long Missing = -1;

    /// <summary>The code a status-changing script returns: the job was not in the expected status.</summary>
    public const long NotInStatus = 0;

    /// <summary>The code a status-changing script returns: the move is not in the state machine.</summary>
    public const long Illegal = -2;

    /// <summary>The code a status-changing script returns: done.</summary>
    public const long Done = 1;

    /// <summary>The code <see cref="Fail"/> returns when the job reached <see cref="JobStatus.Exit"/>.</summary>
    public const long Exited = 2;

    // KEYS: the job, the leases, the status sets in pipeline order, the job's history (JobKeys.ForTransition).
    private static readonly string s_prelude = JobStateMachine.ToLua() + $$"""
        local unpack = table.unpack or unpack
        local job, leases = KEYS[1], KEYS[2]
        local statusKey = {}
        for i, name in ipairs(statuses) do statusKey[name] = KEYS[i + 2] end
        local history = KEYS[#statuses + 3]

        -- Moves a job known to be in `from` to `to`, keeping the status and lease sets in step with the hash.
        local function move(id, from, to, now, leaseIso, leaseMs)
          redis.call('ZREM', statusKey[from], id)
          redis.call('ZADD', statusKey[to], id, id)
          redis.call('HSET', job, '{{JobFields.Status}}', to)
          redis.call('RPUSH', history, to .. '|' .. now)
          if from == '{{JobStatus.Enqueue}}' then
            local started = redis.call('HGET', job, '{{JobFields.StartTime}}')
            if not started or started == '' then redis.call('HSET', job, '{{JobFields.StartTime}}', now) end
          end
          if to == '{{JobStatus.Exit}}' then redis.call('HSET', job, '{{JobFields.EndTime}}', now) end
          if consumed[to] then
            redis.call('HSET', job, '{{JobFields.LeaseDeadline}}', leaseIso)
            redis.call('ZADD', leases, leaseMs, id)
          else
            redis.call('HDEL', job, '{{JobFields.LeaseDeadline}}')
            redis.call('ZREM', leases, id)
          end
        end

        local function snapshot(code)
          local hash = redis.call('HGETALL', job)
          table.insert(hash, 1, code)
          return hash
        end

        """;

    /// <summary>
    /// Creates a job unless the object already has one. KEYS: object, counter, user set, Enqueue set.
    /// ARGV: job key prefix, user, path, type, object version, now. Returns {1 if created else 0, hash...}.
    /// </summary>
    public static readonly string Create = $$"""
        local existing = redis.call('GET', KEYS[1])
        if existing then
          local hash = redis.call('HGETALL', ARGV[1] .. existing)
          if #hash > 0 then
            table.insert(hash, 1, 0)
            return hash
          end
        end
        local id = tostring(redis.call('INCR', KEYS[2]))
        local job = ARGV[1] .. id
        redis.call('HSET', job,
          '{{JobFields.Id}}', id, '{{JobFields.User}}', ARGV[2], '{{JobFields.Path}}', ARGV[3], '{{JobFields.Type}}', ARGV[4],
          '{{JobFields.Status}}', '{{JobStatus.Enqueue}}', '{{JobFields.StartTime}}', '', '{{JobFields.EndTime}}', '',
          '{{JobFields.Iteration}}', '0', '{{JobFields.ObjectVersion}}', ARGV[5], '{{JobFields.CreatedTime}}', ARGV[6])
        redis.call('RPUSH', job .. '{{JobKeys.HistorySuffix}}', '{{JobStatus.Enqueue}}|' .. ARGV[6])
        redis.call('SET', KEYS[1], id)
        redis.call('ZADD', KEYS[3], id, id)
        redis.call('ZADD', KEYS[4], id, id)
        local hash = redis.call('HGETALL', job)
        table.insert(hash, 1, 1)
        return hash
        """;

    /// <summary>
    /// Compare-and-set of the status. ARGV: id, from, to, now, lease deadline (ISO), lease deadline (Unix ms),
    /// then extra field/value pairs. Returns a status-change code.
    /// </summary>
    public static readonly string Transition = s_prelude + $$"""
        local id, from, to = ARGV[1], ARGV[2], ARGV[3]
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return -1 end
        if current ~= from then return 0 end
        if not (legal[from] and legal[from][to]) then return -2 end
        move(id, from, to, ARGV[4], ARGV[5], ARGV[6])
        if #ARGV > 6 then redis.call('HSET', job, unpack(ARGV, 7)) end
        return 1
        """;

    /// <summary>
    /// Extends the lease if the job is still in the working status. KEYS: job, leases.
    /// ARGV: id, working status, lease deadline (ISO), lease deadline (Unix ms). Returns a status-change code.
    /// </summary>
    public static readonly string Renew = $$"""
        local current = redis.call('HGET', KEYS[1], '{{JobFields.Status}}')
        if not current then return -1 end
        if current ~= ARGV[2] then return 0 end
        redis.call('HSET', KEYS[1], '{{JobFields.LeaseDeadline}}', ARGV[3])
        redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
        return 1
        """;

    /// <summary>
    /// Records a failed attempt of the stage working on the job. ARGV: id, working status, reason, now, iteration limit,
    /// '1' if permanent. Returns {code, hash...}: 1 retried, 2 exited, 0 not in that status (hash unchanged), -1 no job.
    /// </summary>
    public static readonly string Fail = s_prelude + $$"""
        local id, working, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return {-1} end
        if current ~= working or not consumed[current] then return snapshot(0) end
        local iteration = (tonumber(redis.call('HGET', job, '{{JobFields.Iteration}}')) or 0) + 1
        redis.call('HSET', job, '{{JobFields.Iteration}}', tostring(iteration), '{{JobFields.LastError}}', reason)
        if ARGV[6] == '1' or iteration >= tonumber(ARGV[5]) then
          move(id, current, '{{JobStatus.Exit}}', now, '', '')
          redis.call('HSET', job, '{{JobFields.Error}}', reason)
          return snapshot(2)
        end
        move(id, current, consumed[current], now, '', '')
        return snapshot(1)
        """;

    /// <summary>
    /// Ends a job that has not ended, with a reason. ARGV: id, reason, now, and optionally the status the job must still
    /// be in. Returns a status-change code (0 when the job is already in Exit, or not in that status).
    /// </summary>
    public static readonly string Exit = s_prelude + $$"""
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return -1 end
        if ARGV[4] and current ~= ARGV[4] then return 0 end
        if not legal[current]['{{JobStatus.Exit}}'] then return 0 end
        move(ARGV[1], current, '{{JobStatus.Exit}}', ARGV[3], '', '')
        redis.call('HSET', job, '{{JobFields.Error}}', ARGV[2])
        return 1
        """;
}
