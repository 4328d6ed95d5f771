using System.Text;
using GEdge.Contracts;

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

    /// <summary>The code <see cref="Fail"/> returns when the job had been given back and was re-queued without counting an attempt.</summary>
    public const long Requeued = 3;

    /// <summary>The code <see cref="SegmentTransition"/> returns when the segment's move also moved its job's status.</summary>
    public const long JobMoved = 4;

    // KEYS: the job, the leases, the status sets in pipeline order, the job's history, its segments, their history and
    // the segment leases (JobKeys.ForTransition).
    private static readonly string s_prelude = StateMachineAsLua() + $$"""
        local unpack = table.unpack or unpack
        local job, leases = KEYS[1], KEYS[2]
        local statusKey = {}
        for i, name in ipairs(statuses) do statusKey[name] = KEYS[i + 2] end
        local history = KEYS[#statuses + 3]
        local segments, segmentHistory, segmentLeases = KEYS[#statuses + 4], KEYS[#statuses + 5], KEYS[#statuses + 6]

        -- A field of segment n in the job's segments hash ('3.status').
        local function sf(n, name) return n .. '.' .. name end

        -- Ends the leases of all of a job's segments (the job has ended: none of them may be recorded any more).
        local function releaseSegments(id)
          local count = tonumber(redis.call('HGET', job, '{{JobFields.Segments}}') or '0')
          for n = 0, count - 1 do redis.call('ZREM', segmentLeases, id .. ':' .. n) end
        end

        -- The answer this change gave before, if the job's last change is this one: a call retried after its reply was
        -- lost (the connection dropped) finds its own change applied and answers as the first attempt did. nil otherwise.
        local function repeated(change)
          if not change or change == '' then return nil end
          local last = redis.call('HGET', job, '{{JobFields.LastChange}}')
          if last and string.sub(last, 1, #change + 1) == change .. '|' then return tonumber(string.sub(last, #change + 2)) end
          return nil
        end

        local function record(change, code)
          if change and change ~= '' then redis.call('HSET', job, '{{JobFields.LastChange}}', change .. '|' .. code) end
          return code
        end

        -- Moves a job known to be in `from` to `to`, keeping the status and lease sets in step with the hash.
        local function move(id, from, to, now, leaseIso, leaseMs)
          redis.call('HDEL', job, '{{JobFields.GivenBack}}')
          redis.call('ZREM', statusKey[from], id)
          redis.call('ZADD', statusKey[to], id, id)
          redis.call('HSET', job, '{{JobFields.Status}}', to)
          redis.call('RPUSH', history, to .. '|' .. now)
          if from == '{{JobStatus.Enqueue}}' then
            local started = redis.call('HGET', job, '{{JobFields.StartTime}}')
            if not started or started == '' then redis.call('HSET', job, '{{JobFields.StartTime}}', now) end
          end
          if to == '{{JobStatus.Exit}}' then
            redis.call('HSET', job, '{{JobFields.EndTime}}', now)
            releaseSegments(id)
          end
          -- A job cut into segments holds no lease of its own: each segment holds one while a stage works on it.
          if consumed[to] and leaseIso ~= '' then
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

        -- As repeated/record, for a change to segment n: each segment keeps its own last change, since changes to a
        -- job's segments interleave.
        local function repeatedOn(n, change)
          if not change or change == '' then return nil end
          local last = redis.call('HGET', segments, sf(n, '{{JobFields.LastChange}}'))
          if last and string.sub(last, 1, #change + 1) == change .. '|' then return tonumber(string.sub(last, #change + 2)) end
          return nil
        end

        local function recordOn(n, change, code)
          if change and change ~= '' then redis.call('HSET', segments, sf(n, '{{JobFields.LastChange}}'), change .. '|' .. code) end
          return code
        end

        -- The status a job cut into segments is in: its least advanced segment's, where a segment still waiting for the
        -- first stage counts as in it (that stage has cut the job); when all are done, the last stage's completion.
        local function derivedStatus()
          for i = 1, #statuses - 1 do
            local count = tonumber(redis.call('HGET', segments, 'count.' .. statuses[i]) or '0')
            if count > 0 then
              if i == 1 then return statuses[2] end
              return statuses[i]
            end
          end
          return statuses[#statuses - 1]
        end

        -- Moves segment n from `from` to `to`, keeping the counts, its lease and its history in step.
        local function moveSegment(id, n, from, to, now, leaseIso, leaseMs, worker)
          redis.call('HDEL', segments, sf(n, '{{JobFields.GivenBack}}'))
          redis.call('HINCRBY', segments, 'count.' .. from, -1)
          redis.call('HINCRBY', segments, 'count.' .. to, 1)
          redis.call('HSET', segments, sf(n, '{{JobFields.Status}}'), to, sf(n, '{{SegmentFields.Since}}'), now)
          local member = id .. ':' .. n
          if consumed[to] and leaseIso ~= '' then
            redis.call('HSET', segments, sf(n, '{{JobFields.LeaseDeadline}}'), leaseIso, sf(n, '{{SegmentFields.Worker}}'), worker)
            redis.call('ZADD', segmentLeases, leaseMs, member)
          else
            redis.call('HDEL', segments, sf(n, '{{JobFields.LeaseDeadline}}'))
            redis.call('ZREM', segmentLeases, member)
          end
          redis.call('RPUSH', segmentHistory, n .. '|' .. to .. '|' .. now .. '|' .. (worker or ''))
        end

        -- After a segment moved: the job follows its least advanced segment. Returns whether the job's status changed.
        local function follow(id, now)
          local current = redis.call('HGET', job, '{{JobFields.Status}}')
          local to = derivedStatus()
          if current == to or current == '{{JobStatus.Exit}}' then return false end
          move(id, current, to, now, '', '')
          return true
        end

        """;

    /// <summary>
    /// Creates a job unless the object already has one. KEYS: object, counter, user set, Enqueue set.
    /// ARGV: job key prefix, user, path, type, object version, now, trace id (empty for none). Returns {1 if created else 0, hash...}.
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
        if ARGV[7] ~= '' then
          redis.call('HSET', job, '{{JobFields.TraceId}}', ARGV[7])
        end
        redis.call('RPUSH', job .. '{{JobKeys.HistorySuffix}}', '{{JobStatus.Enqueue}}|' .. ARGV[6])
        redis.call('SET', KEYS[1], id)
        redis.call('ZADD', KEYS[3], id, id)
        redis.call('ZADD', KEYS[4], id, id)
        local hash = redis.call('HGETALL', job)
        table.insert(hash, 1, 1)
        return hash
        """;

    /// <summary>
    /// Compare-and-set of the status. ARGV: id, from, to, now, lease deadline (ISO), lease deadline (Unix ms), change id,
    /// then extra field/value pairs. Returns a status-change code.
    /// </summary>
    public static readonly string Transition = s_prelude + $$"""
        local id, from, to, change = ARGV[1], ARGV[2], ARGV[3], ARGV[7]
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return -1 end
        if current ~= from then return repeated(change) or 0 end
        if not (legal[from] and legal[from][to]) then return -2 end
        -- A job cut into segments follows them; only its ending is moved by hand.
        if to ~= '{{JobStatus.Exit}}' and redis.call('HEXISTS', job, '{{JobFields.Segments}}') == 1 then return -2 end
        move(id, from, to, ARGV[4], ARGV[5], ARGV[6])
        if #ARGV > 7 then redis.call('HSET', job, unpack(ARGV, 8)) end
        return record(change, 1)
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
    /// '1' if permanent, change id. The iteration counts restarts after an error (DESIGN.md's job table): a permanent
    /// failure ends the job with no restart, so it leaves the iteration as it was. Returns {code, hash...}: 1 retried, 2 exited, 3 re-queued without counting (the stage
    /// had given the job back), 0 not in that status (hash unchanged), -1 no job.
    /// </summary>
    public static readonly string Fail = s_prelude + $$"""
        local id, working, reason, now, change = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[7]
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return {-1} end
        if current ~= working or not consumed[current] then return snapshot(repeated(change) or 0) end
        if redis.call('HEXISTS', job, '{{JobFields.Segments}}') == 1 then return snapshot(0) end
        if ARGV[6] ~= '1' and redis.call('HEXISTS', job, '{{JobFields.GivenBack}}') == 1 then
          move(id, current, consumed[current], now, '', '')
          return snapshot(record(change, 3))
        end
        if ARGV[6] == '1' then
          redis.call('HSET', job, '{{JobFields.LastError}}', reason, '{{JobFields.Error}}', reason)
          move(id, current, '{{JobStatus.Exit}}', now, '', '')
          return snapshot(record(change, 2))
        end
        local iteration = (tonumber(redis.call('HGET', job, '{{JobFields.Iteration}}')) or 0) + 1
        redis.call('HSET', job, '{{JobFields.Iteration}}', tostring(iteration), '{{JobFields.LastError}}', reason)
        if iteration >= tonumber(ARGV[5]) then
          move(id, current, '{{JobStatus.Exit}}', now, '', '')
          redis.call('HSET', job, '{{JobFields.Error}}', reason)
          return snapshot(record(change, 2))
        end
        move(id, current, consumed[current], now, '', '')
        return snapshot(record(change, 1))
        """;

    /// <summary>
    /// Gives a job back from the stage working on it: the lease ends now and the reason is recorded, so the next sweep
    /// re-queues the job (<see cref="Fail"/> answers 3 for it) without counting an attempt. The status stays, so nothing
    /// announces the job while its stage is still going away. ARGV: id, working status, reason, now (ISO), now (Unix ms).
    /// Returns a status-change code. Repeating it changes nothing more, so it needs no change id.
    /// </summary>
    public static readonly string GiveBack = s_prelude + $$"""
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return -1 end
        if current ~= ARGV[2] or not consumed[current] then return 0 end
        redis.call('HSET', job, '{{JobFields.LeaseDeadline}}', ARGV[4], '{{JobFields.GivenBack}}', ARGV[3])
        redis.call('ZADD', leases, ARGV[5], ARGV[1])
        return 1
        """;

    /// <summary>
    /// Ends a job that has not ended, with a reason. ARGV: id, reason, now, change id, and optionally the status the job
    /// must still be in. Returns a status-change code (0 when the job is already in Exit, or not in that status).
    /// </summary>
    public static readonly string Exit = s_prelude + $$"""
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return -1 end
        local again = repeated(ARGV[4])
        if again then return again end
        if ARGV[5] and current ~= ARGV[5] then return 0 end
        if not legal[current]['{{JobStatus.Exit}}'] then return 0 end
        move(ARGV[1], current, '{{JobStatus.Exit}}', ARGV[3], '', '')
        redis.call('HSET', job, '{{JobFields.Error}}', ARGV[2])
        return record(ARGV[4], 1)
        """;

    /// <summary>
    /// Cuts a job that the first stage has claimed into segments, each waiting for the first stage: the job keeps its
    /// status (it follows its segments from now on) and its own lease ends, since each segment holds one while a stage
    /// works on it. ARGV: id, now, change id, the number of segments, each one's start in seconds, then extra field/value
    /// pairs for the job. Returns a
    /// status-change code: 0 when the job is not in the first working status or was cut already.
    /// </summary>
    public static readonly string Split = s_prelude + $$"""
        local id, now, change, count = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return -1 end
        local again = repeated(change)
        if again then return again end
        if current ~= '{{PipelineTopology.First.Working}}' or redis.call('HEXISTS', job, '{{JobFields.Segments}}') == 1 then return 0 end
        for n = 0, count - 1 do
          redis.call('HSET', segments, sf(n, '{{JobFields.Status}}'), '{{JobStatus.Enqueue}}', sf(n, '{{JobFields.Iteration}}'), '0',
            sf(n, '{{SegmentFields.Since}}'), now, sf(n, '{{SegmentFields.Start}}'), ARGV[5 + n])
          redis.call('RPUSH', segmentHistory, n .. '|{{JobStatus.Enqueue}}|' .. now .. '|')
        end
        redis.call('HSET', segments, 'count.{{JobStatus.Enqueue}}', count)
        redis.call('HSET', job, '{{JobFields.Segments}}', count)
        for i = 5 + count, #ARGV - 1, 2 do redis.call('HSET', job, ARGV[i], ARGV[i + 1]) end
        redis.call('HDEL', job, '{{JobFields.LeaseDeadline}}', '{{JobFields.GivenBack}}')
        redis.call('ZREM', leases, id)
        return record(change, 1)
        """;

    /// <summary>
    /// Compare-and-set of one segment's status, the job following its least advanced segment in the same step. ARGV: id,
    /// segment, from, to, now, lease deadline (ISO), lease deadline (Unix ms), change id, worker, then extra field/value
    /// pairs for the segment. Returns a status-change code, <see cref="JobMoved"/> when the job's status changed too; 0
    /// also when the job has ended.
    /// </summary>
    public static readonly string SegmentTransition = s_prelude + $$"""
        local id, n, from, to, now, change, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[8], ARGV[9]
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return -1 end
        local again = repeatedOn(n, change)
        if again then return again end
        if current == '{{JobStatus.Exit}}' then return 0 end
        local segment = redis.call('HGET', segments, sf(n, '{{JobFields.Status}}'))
        if not segment then return -1 end
        if segment ~= from then return 0 end
        if not (legal[from] and legal[from][to]) or to == '{{JobStatus.Exit}}' then return -2 end
        moveSegment(id, n, from, to, now, ARGV[6], ARGV[7], worker)
        for i = 10, #ARGV - 1, 2 do redis.call('HSET', segments, sf(n, ARGV[i]), ARGV[i + 1]) end
        if follow(id, now) then return recordOn(n, change, {{JobMoved}}) end
        return recordOn(n, change, 1)
        """;

    /// <summary>
    /// Extends a segment's lease if it is still in the working status and its job has not ended. KEYS: job, segments,
    /// segment leases. ARGV: id, segment, working status, lease deadline (ISO), lease deadline (Unix ms).
    /// </summary>
    public static readonly string SegmentRenew = $$"""
        local current = redis.call('HGET', KEYS[1], '{{JobFields.Status}}')
        if not current then return -1 end
        if current == '{{JobStatus.Exit}}' then return 0 end
        if redis.call('HGET', KEYS[2], ARGV[2] .. '.{{JobFields.Status}}') ~= ARGV[3] then return 0 end
        redis.call('HSET', KEYS[2], ARGV[2] .. '.{{JobFields.LeaseDeadline}}', ARGV[4])
        redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1] .. ':' .. ARGV[2])
        return 1
        """;

    /// <summary>
    /// Records a failed attempt of the stage working on one segment, as <see cref="Fail"/> does for a job: the segment's
    /// iteration goes up and the job's is the highest of its segments'; at the limit, or for a permanent failure, the job
    /// ends with the reason (its other segments stop: their leases end and no move of theirs is recorded any more).
    /// ARGV: id, segment, working status, reason, now, iteration limit, '1' if permanent, change id.
    /// Returns {code, segment iteration, job hash...}: codes as <see cref="Fail"/>.
    /// </summary>
    public static readonly string SegmentFail = s_prelude + $$"""
        local id, n, working, reason, now, change = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[8]
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return {-1} end
        local function answer(code)
          local hash = redis.call('HGETALL', job)
          table.insert(hash, 1, tonumber(redis.call('HGET', segments, sf(n, '{{JobFields.Iteration}}')) or 0))
          table.insert(hash, 1, code)
          return hash
        end
        local again = repeatedOn(n, change)
        if again then return answer(again) end
        local segment = redis.call('HGET', segments, sf(n, '{{JobFields.Status}}'))
        if current == '{{JobStatus.Exit}}' or segment ~= working or not consumed[working] then return answer(0) end
        if ARGV[7] ~= '1' and redis.call('HEXISTS', segments, sf(n, '{{JobFields.GivenBack}}')) == 1 then
          moveSegment(id, n, working, consumed[working], now, '', '', '')
          follow(id, now)
          return answer(recordOn(n, change, 3))
        end
        if ARGV[7] == '1' then
          redis.call('HSET', segments, sf(n, '{{JobFields.LastError}}'), reason)
          redis.call('HSET', job, '{{JobFields.LastError}}', reason, '{{JobFields.Error}}', reason)
          move(id, current, '{{JobStatus.Exit}}', now, '', '')
          return answer(recordOn(n, change, 2))
        end
        local iteration = (tonumber(redis.call('HGET', segments, sf(n, '{{JobFields.Iteration}}'))) or 0) + 1
        redis.call('HSET', segments, sf(n, '{{JobFields.Iteration}}'), tostring(iteration), sf(n, '{{JobFields.LastError}}'), reason)
        local highest = math.max(iteration, tonumber(redis.call('HGET', job, '{{JobFields.Iteration}}')) or 0)
        redis.call('HSET', job, '{{JobFields.Iteration}}', tostring(highest), '{{JobFields.LastError}}', reason)
        if iteration >= tonumber(ARGV[6]) then
          redis.call('HSET', job, '{{JobFields.Error}}', reason)
          move(id, current, '{{JobStatus.Exit}}', now, '', '')
          return answer(recordOn(n, change, 2))
        end
        moveSegment(id, n, working, consumed[working], now, '', '', '')
        follow(id, now)
        return answer(recordOn(n, change, 1))
        """;

    /// <summary>
    /// Records a failed attempt at what a job waits for in <c>status</c> with no stage holding it (the join of its results
    /// in the last stage's completion): its iteration goes up and the job stays, to be tried again; at the limit, or for a
    /// permanent failure, it ends with the reason. ARGV: id, status, reason, now, iteration limit, '1' if permanent, change
    /// id. Returns {code, hash...}: 1 retried, 2 exited, 0 not in that status, -1 no job.
    /// </summary>
    public static readonly string FailWaiting = s_prelude + $$"""
        local id, status, reason, now, change = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[7]
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return {-1} end
        if current ~= status or consumed[current] or current == '{{JobStatus.Exit}}' then return snapshot(repeated(change) or 0) end
        local iteration = tonumber(redis.call('HGET', job, '{{JobFields.Iteration}}')) or 0
        if ARGV[6] ~= '1' then iteration = iteration + 1 end
        redis.call('HSET', job, '{{JobFields.Iteration}}', tostring(iteration), '{{JobFields.LastError}}', reason)
        if ARGV[6] == '1' or iteration >= tonumber(ARGV[5]) then
          redis.call('HSET', job, '{{JobFields.Error}}', reason)
          move(id, current, '{{JobStatus.Exit}}', now, '', '')
          return snapshot(record(change, 2))
        end
        return snapshot(record(change, 1))
        """;

    /// <summary>
    /// Gives one segment back from the stage working on it, as <see cref="GiveBack"/> does a job. ARGV: id, segment,
    /// working status, reason, now (ISO), now (Unix ms). Returns a status-change code.
    /// </summary>
    public static readonly string SegmentGiveBack = s_prelude + $$"""
        local current = redis.call('HGET', job, '{{JobFields.Status}}')
        if not current then return -1 end
        local n = ARGV[2]
        if current == '{{JobStatus.Exit}}' or redis.call('HGET', segments, sf(n, '{{JobFields.Status}}')) ~= ARGV[3] or not consumed[ARGV[3]] then return 0 end
        redis.call('HSET', segments, sf(n, '{{JobFields.LeaseDeadline}}'), ARGV[5], sf(n, '{{JobFields.GivenBack}}'), ARGV[4])
        redis.call('ZADD', segmentLeases, ARGV[6], ARGV[1] .. ':' .. n)
        return 1
        """;

    /// <summary>
    /// Deletes a job that has ended: its hash and history, its entries in its user's and the Exit set, and its upload's
    /// mapping when that still names it. KEYS: the job, its history, its user's set, the Exit set, its upload's object key,
    /// its segments, their history and its join lock. ARGV: id. Returns 1 when deleted, 0 when the job has not ended, -1 when there is no such job (so a retry after a
    /// lost reply finds its own deletion done).
    /// </summary>
    public static readonly string Delete = $$"""
        local current = redis.call('HGET', KEYS[1], '{{JobFields.Status}}')
        if not current then return -1 end
        if current ~= '{{JobStatus.Exit}}' then return 0 end
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[6], KEYS[7], KEYS[8])
        redis.call('ZREM', KEYS[3], ARGV[1])
        redis.call('ZREM', KEYS[4], ARGV[1])
        if redis.call('GET', KEYS[5]) == ARGV[1] then redis.call('DEL', KEYS[5]) end
        return 1
        """;

    /// <summary>
    /// The state machine as Lua locals (<c>statuses</c>, <c>legal</c>, <c>consumed</c>) so the server-side scripts enforce
    /// exactly the rules <see cref="JobStateMachine"/> states.
    /// </summary>
    internal static string StateMachineAsLua()
    {
        var lua = new StringBuilder();
        lua.Append("local statuses = {");
        lua.AppendJoin(", ", JobStateMachine.Statuses.Select(s => $"'{s}'"));
        lua.Append("}\n");

        lua.Append("local legal = {\n");
        foreach (var from in JobStateMachine.Statuses)
        {
            lua.Append("  ['").Append(from).Append("'] = {");
            lua.AppendJoin(", ", JobStateMachine.Statuses.Where(to => JobStateMachine.IsLegal(from, to)).Select(to => $"['{to}'] = true"));
            lua.Append("},\n");
        }
        lua.Append("}\n");

        lua.Append("local consumed = {");
        lua.AppendJoin(", ", JobStateMachine.WorkingStatuses.Select(w => $"['{w}'] = '{JobStateMachine.ConsumedBy(w)}'"));
        lua.Append("}\n");
        return lua.ToString();
    }
}
