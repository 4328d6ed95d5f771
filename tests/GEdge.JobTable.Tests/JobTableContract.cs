using System.Globalization;
using GEdge.Contracts;
using GEdge.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using GEdge.Testing;
using StackExchange.Redis;

namespace GEdge.JobTable.Tests;

/// <summary>
/// The whole job-table suite. Each server (real Redis, embedded Garnet) runs it through a subclass, so both must pass
/// the same assertions. Every test writes under its own key prefix.
/// </summary>
public abstract class JobTableContract
{
    private static readonly DateTimeOffset s_start = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly ITestServer _server;
    private readonly FakeTimeProvider _time = new(s_start);
    private readonly string _prefix = $"test:{Guid.NewGuid():N}";
    private readonly JobTable _table;

    /// <summary>What the table under test counts.</summary>
    protected GEdgeMetrics Metrics { get; } = new();

    protected JobTableContract(ITestServer server)
    {
        _server = server;
        _table = NewTable(server.Connection);
    }

    private IDatabase Db => _server.Connection.GetDatabase();

    // ---- create, read, list ----

    [Fact]
    public async Task Create_KeepsTheTraceIdItIsGiven_InTheRecord_AndNoFieldWithoutOne()
    {
        const string Trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        var traced = (await _table.CreateAsync(Upload("alice", 1) with { TraceId = Trace })).Job;
        var untraced = (await _table.CreateAsync(Upload("alice", 2))).Job;

        Assert.Equal(Trace, (await _table.GetAsync(traced.Id))!.TraceId);
        Assert.Equal(Trace, traced.ToRecord()[JobFields.TraceId]);
        Assert.Null((await _table.GetAsync(untraced.Id))!.TraceId);
        Assert.False(await Db.HashExistsAsync($"{_prefix}:job:{untraced.Id}", JobFields.TraceId));
        Assert.Empty(traced.Fields);
    }

    [Fact]
    public async Task Create_NewUploads_AreNumberedFromOneInEnqueue()
    {
        var first = await _table.CreateAsync(Upload("alice", 1));
        var second = await _table.CreateAsync(Upload("alice", 2));

        Assert.True(first.Created);
        Assert.True(second.Created);
        Assert.Equal(1, first.Job.Id);
        Assert.Equal(2, second.Job.Id);
        Assert.Equivalent(
            new Job
            {
                Id = 1,
                User = "alice",
                Path = "uploads/alice/clip1.mp4",
                Type = "mp4",
                Status = JobStatus.Enqueue,
                Iteration = 0,
                ObjectVersion = "etag-1",
                CreatedTime = s_start,
            },
            first.Job,
            strict: true);
    }

    [Fact]
    public async Task Create_WritesTheEightContractFieldsSpelledExactly()
    {
        await _table.CreateAsync(Upload("alice", 1));

        // A raw HGETALL, as any other Redis client would see the job.
        var hash = (await Db.HashGetAllAsync($"{_prefix}:job:1")).ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());

        Assert.Equal(
            new Dictionary<string, string>
            {
                ["id"] = "1",
                ["user"] = "alice",
                ["path"] = "uploads/alice/clip1.mp4",
                ["type"] = "mp4",
                ["status"] = "Enqueue",
                ["start_time"] = "",
                ["end_time"] = "",
                ["iteration"] = "0",
                ["object_version"] = "etag-1",
                ["created_time"] = "2025-06-01T12:00:00.0000000Z",
            },
            hash);
        Assert.Superset(new HashSet<string> { "id", "user", "path", "type", "status", "start_time", "end_time", "iteration" }, hash.Keys.ToHashSet());
    }

    [Fact]
    public async Task Create_SameUploadTwice_ReturnsTheSameJob()
    {
        var first = await _table.CreateAsync(Upload("alice", 1));
        var again = await _table.CreateAsync(Upload("alice", 1));

        Assert.True(first.Created);
        Assert.False(again.Created);
        Assert.Equivalent(first.Job, again.Job, strict: true);
        Assert.Equal("1", (string?)await Db.StringGetAsync($"{_prefix}:jobs:next-id"));
    }

    [Fact]
    public async Task Create_SamePathWithANewVersion_CreatesAnotherJob()
    {
        var first = await _table.CreateAsync(new NewJob("alice", "uploads/alice/clip.mp4", "mp4", "etag-a"));
        var second = await _table.CreateAsync(new NewJob("alice", "uploads/alice/clip.mp4", "mp4", "etag-b"));

        Assert.True(second.Created);
        Assert.Equal([1L, 2L], [first.Job.Id, second.Job.Id]);
    }

    [Theory]
    [InlineData("", "uploads/a.mp4", "mp4", "etag", "job.User")]
    [InlineData("alice", " ", "mp4", "etag", "job.Path")]
    [InlineData("alice", "uploads/a.mp4", "", "etag", "job.Type")]
    [InlineData("alice", "uploads/a.mp4", "mp4", "", "job.ObjectVersion")]
    public async Task Create_WithABlankField_ThrowsNamingTheField(string user, string path, string type, string version, string field)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => _table.CreateAsync(new NewJob(user, path, type, version)));

        Assert.Equal(field, error.ParamName);
    }

    [Fact]
    public async Task Get_UnknownJob_ReturnsNull()
    {
        Assert.Null(await _table.GetAsync(42));
    }

    [Fact]
    public async Task ListByUser_PagesTheUsersJobsNewestFirst()
    {
        for (var i = 1; i <= 5; i++)
        {
            await _table.CreateAsync(Upload("alice", i));
            await _table.CreateAsync(Upload("bob", i));
        }

        var first = await _table.ListByUserAsync("alice", 0, 2);
        var second = await _table.ListByUserAsync("alice", 2, 2);
        var last = await _table.ListByUserAsync("alice", 4, 2);

        Assert.Equal([9L, 7L], first.Jobs.Select(j => j.Id));
        Assert.Equal([5L, 3L], second.Jobs.Select(j => j.Id));
        Assert.Equal([1L], last.Jobs.Select(j => j.Id));
        Assert.All([first, second, last], page => Assert.Equal(5, page.Total));
        Assert.Equal([true, true, false], new[] { first.HasMore, second.HasMore, last.HasMore });
        Assert.All(first.Jobs.Concat(second.Jobs).Concat(last.Jobs), job => Assert.Equal("alice", job.User));
    }

    [Fact]
    public async Task ListByUser_UnknownUser_ReturnsAnEmptyPage()
    {
        var page = await _table.ListByUserAsync("nobody", 0, 10);

        Assert.Empty(page.Jobs);
        Assert.Equal(0, page.Total);
    }

    [Fact]
    public async Task ListByStatus_FollowsEveryMoveOldestFirst()
    {
        for (var i = 1; i <= 3; i++)
            await _table.CreateAsync(Upload("alice", i));

        Assert.True(await _table.TryClaimAsync(2, JobStatus.Preprocessing));

        Assert.Equal([1L, 3L], (await _table.ListByStatusAsync(JobStatus.Enqueue, 10)).Select(j => j.Id));
        Assert.Equal([2L], (await _table.ListByStatusAsync(JobStatus.Preprocessing, 10)).Select(j => j.Id));
        Assert.Equal([1L], (await _table.ListByStatusAsync(JobStatus.Enqueue, 1)).Select(j => j.Id));
        Assert.Empty(await _table.ListByStatusAsync(JobStatus.Exit, 10));
    }

    // ---- transitions ----

    [Fact]
    public async Task Transition_StampsStartTimeOnlyTheFirstTimeTheJobLeavesEnqueueAndEndTimeOnExit()
    {
        var id = (await _table.CreateAsync(Upload("alice", 1))).Job.Id;
        var started = Tick();
        Assert.True(await _table.TryTransitionAsync(id, JobStatus.Enqueue, JobStatus.Preprocessing));
        Tick();
        Assert.True(await _table.TryTransitionAsync(id, JobStatus.Preprocessing, JobStatus.Enqueue));
        Tick();
        Assert.True(await _table.TryTransitionAsync(id, JobStatus.Enqueue, JobStatus.Preprocessing));
        Assert.Equal(started, (await _table.GetAsync(id))!.StartTime);
        Assert.Null((await _table.GetAsync(id))!.EndTime);

        foreach (var (from, to) in ForwardMoves(JobStatus.Preprocessing, JobStatus.Postprocessing_complete))
            Assert.True(await _table.TryTransitionAsync(id, from, to));
        var ended = Tick();
        Assert.True(await _table.TryTransitionAsync(id, JobStatus.Postprocessing_complete, JobStatus.Exit));

        var job = (await _table.GetAsync(id))!;
        Assert.Equal(JobStatus.Exit, job.Status);
        Assert.Equal(started, job.StartTime);
        Assert.Equal(ended, job.EndTime);
        Assert.Null(job.Error);
        Assert.Equal("2025-06-01T12:01:00.0000000Z", (string?)await Db.HashGetAsync($"{_prefix}:job:{id}", "start_time"));
    }

    [Fact]
    public async Task Transition_WhenStatusAlreadyMoved_ReturnsFalseAndChangesNothing()
    {
        var id = (await _table.CreateAsync(Upload("alice", 1))).Job.Id;
        Assert.True(await _table.TryTransitionAsync(id, JobStatus.Enqueue, JobStatus.Preprocessing));
        var before = await SnapshotAsync(id);

        Assert.False(await _table.TryTransitionAsync(id, JobStatus.Enqueue, JobStatus.Preprocessing));

        Assert.Equal(before, await SnapshotAsync(id));
    }

    [Fact]
    public async Task Transition_UnknownJob_ReturnsFalseAndCreatesNothing()
    {
        Assert.False(await _table.TryTransitionAsync(42, JobStatus.Enqueue, JobStatus.Preprocessing));

        Assert.False(await Db.KeyExistsAsync($"{_prefix}:job:42"));
        Assert.Equal(0, await Db.SortedSetLengthAsync($"{_prefix}:status:Preprocessing"));
    }

    [Theory]
    [InlineData(JobStatus.Enqueue, JobStatus.Inferencing)]
    [InlineData(JobStatus.Enqueue, JobStatus.Preprocessing_complete)]
    [InlineData(JobStatus.Preprocessing, JobStatus.Inferencing)]
    [InlineData(JobStatus.Preprocessing_complete, JobStatus.Enqueue)]
    [InlineData(JobStatus.Inferencing_complete, JobStatus.Inferencing)]
    [InlineData(JobStatus.Postprocessing_complete, JobStatus.Postprocessing)]
    [InlineData(JobStatus.Exit, JobStatus.Enqueue)]
    [InlineData(JobStatus.Exit, JobStatus.Preprocessing)]
    [InlineData(JobStatus.Exit, JobStatus.Exit)]
    public async Task Transition_Illegal_IsRefusedAndLeavesTheWholeRecordUnchanged(JobStatus from, JobStatus to)
    {
        var id = await JobInAsync(from, 1);
        var before = await SnapshotAsync(id);
        Tick();

        Assert.False(await _table.TryTransitionAsync(id, from, to, new Dictionary<string, string> { ["note"] = "should not be written" }));

        Assert.Equal(before, await SnapshotAsync(id));
    }

    [Fact]
    public async Task Transition_EveryPairOfStatuses_SucceedsExactlyWhenTheStateMachineAllowsIt()
    {
        // The server-side scripts carry a table generated from JobStateMachine; this checks all 64 moves against it.
        var n = 0;
        foreach (var from in JobStateMachine.Statuses)
        {
            foreach (var to in JobStateMachine.Statuses)
            {
                var id = await JobInAsync(from, ++n);
                var before = await SnapshotAsync(id);

                var moved = await _table.TryTransitionAsync(id, from, to);

                Assert.True(JobStateMachine.IsLegal(from, to) == moved, $"{from} -> {to}: moved = {moved}");
                if (moved)
                    Assert.Equal(to, (await _table.GetAsync(id))!.Status);
                else
                    Assert.Equal(before, await SnapshotAsync(id));
            }
        }
    }

    [Fact]
    public async Task Transition_WithExtraFields_SetsThemInTheSameStep()
    {
        var id = await JobInAsync(JobStatus.Preprocessing, 1);

        Assert.True(await _table.TryTransitionAsync(id, JobStatus.Preprocessing, JobStatus.Preprocessing_complete,
            new Dictionary<string, string> { ["frames_path"] = "work/1/frames.bin", ["frame_count"] = "120" }));

        var job = (await _table.GetAsync(id))!;
        Assert.Equal(JobStatus.Preprocessing_complete, job.Status);
        Assert.Equal(new Dictionary<string, string> { ["frames_path"] = "work/1/frames.bin", ["frame_count"] = "120" }, job.Fields);
    }

    [Theory]
    [InlineData("status")]
    [InlineData("iteration")]
    [InlineData("error")]
    [InlineData("lease_deadline")]
    public async Task Transition_SettingAFieldTheTableMaintains_ThrowsAndChangesNothing(string field)
    {
        var id = await JobInAsync(JobStatus.Enqueue, 1);
        var before = await SnapshotAsync(id);

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            _table.TryTransitionAsync(id, JobStatus.Enqueue, JobStatus.Preprocessing, new Dictionary<string, string> { [field] = "x" }));

        Assert.Contains($"'{field}'", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync(id));
    }

    // ---- claims and leases ----

    [Fact]
    public async Task Claim_FromTheConsumedStatus_MovesTheJobAndSetsTheLease()
    {
        var id = await JobInAsync(JobStatus.Preprocessing_complete, 1);

        Assert.True(await _table.TryClaimAsync(id, JobStatus.Inferencing, TimeSpan.FromSeconds(30)));

        var job = (await _table.GetAsync(id))!;
        var deadline = _time.GetUtcNow().AddSeconds(30);
        Assert.Equal(JobStatus.Inferencing, job.Status);
        Assert.Equal(deadline, job.LeaseDeadline);
        Assert.Equal(deadline.ToUnixTimeMilliseconds(), await Db.SortedSetScoreAsync($"{_prefix}:leases", id));
    }

    [Fact]
    public async Task Claim_WhenStatusAlreadyMoved_ReturnsFalse()
    {
        var id = await JobInAsync(JobStatus.Enqueue, 1);
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Preprocessing));
        var before = await SnapshotAsync(id);

        Assert.False(await _table.TryClaimAsync(id, JobStatus.Preprocessing));

        Assert.Equal(before, await SnapshotAsync(id));
    }

    [Fact]
    public async Task Claim_IntoAStatusNoStageWorksIn_Throws()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => _table.TryClaimAsync(1, JobStatus.Preprocessing_complete));

        Assert.Equal("working", error.ParamName);
    }

    [Fact]
    public async Task Transition_IntoAWorkingStatus_StartsTheConfiguredLease()
    {
        var id = await JobInAsync(JobStatus.Enqueue, 1);

        Assert.True(await _table.TryTransitionAsync(id, JobStatus.Enqueue, JobStatus.Preprocessing));

        Assert.Equal(_time.GetUtcNow() + new JobTableOptions().LeaseDuration, (await _table.GetAsync(id))!.LeaseDeadline);
    }

    [Fact]
    public async Task CompletingAStage_ClearsTheLease()
    {
        var id = await JobInAsync(JobStatus.Inferencing_complete, 1);
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Postprocessing, TimeSpan.FromSeconds(30)));

        Assert.True(await _table.TryTransitionAsync(id, JobStatus.Postprocessing, JobStatus.Postprocessing_complete));

        Assert.Null((await _table.GetAsync(id))!.LeaseDeadline);
        Assert.False(await Db.HashExistsAsync($"{_prefix}:job:{id}", "lease_deadline"));
        Assert.Null(await Db.SortedSetScoreAsync($"{_prefix}:leases", id));
    }

    [Fact]
    public async Task RenewLease_WhileWorking_MovesTheDeadline()
    {
        var id = await JobInAsync(JobStatus.Enqueue, 1);
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Preprocessing, TimeSpan.FromSeconds(30)));
        _time.Advance(TimeSpan.FromSeconds(20));

        Assert.True(await _table.RenewLeaseAsync(id, JobStatus.Preprocessing, TimeSpan.FromSeconds(60)));

        Assert.Equal(s_start.AddSeconds(80), (await _table.GetAsync(id))!.LeaseDeadline);
        Assert.Empty(await _table.ListExpiredLeasesAsync(s_start.AddSeconds(79), 10));
        Assert.Equal([id], (await _table.ListExpiredLeasesAsync(s_start.AddSeconds(80), 10)).Select(j => j.Id));
    }

    [Fact]
    public async Task RenewLease_AfterTheStageMovedOn_ReturnsFalseAndChangesNothing()
    {
        var id = await JobInAsync(JobStatus.Preprocessing_complete, 1);
        var before = await SnapshotAsync(id);

        Assert.False(await _table.RenewLeaseAsync(id, JobStatus.Preprocessing, TimeSpan.FromSeconds(60)));

        Assert.Equal(before, await SnapshotAsync(id));
    }

    [Fact]
    public async Task ListExpiredLeases_ReturnsOnlyWorkingJobsPastTheirDeadline_EarliestFirst()
    {
        var shortLease = await JobInAsync(JobStatus.Enqueue, 1);
        var longLease = await JobInAsync(JobStatus.Enqueue, 2);
        var completed = await JobInAsync(JobStatus.Enqueue, 3);
        Assert.True(await _table.TryClaimAsync(longLease, JobStatus.Preprocessing, TimeSpan.FromSeconds(60)));
        Assert.True(await _table.TryClaimAsync(shortLease, JobStatus.Preprocessing, TimeSpan.FromSeconds(10)));
        Assert.True(await _table.TryClaimAsync(completed, JobStatus.Preprocessing, TimeSpan.FromSeconds(5)));
        Assert.True(await _table.TryTransitionAsync(completed, JobStatus.Preprocessing, JobStatus.Preprocessing_complete));

        Assert.Empty(await _table.ListExpiredLeasesAsync(s_start.AddSeconds(9), 10));
        Assert.Equal([shortLease], (await _table.ListExpiredLeasesAsync(s_start.AddSeconds(10), 10)).Select(j => j.Id));
        Assert.Equal([shortLease, longLease], (await _table.ListExpiredLeasesAsync(s_start.AddSeconds(61), 10)).Select(j => j.Id));
        Assert.Equal([shortLease], (await _table.ListExpiredLeasesAsync(s_start.AddSeconds(61), 1)).Select(j => j.Id));
    }

    // ---- failures ----

    [Fact]
    public async Task FailAttempt_BelowTheLimit_PutsTheJobBackToTheStatusItsStageConsumes()
    {
        var id = await JobInAsync(JobStatus.Preprocessing_complete, 1);
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Inferencing, TimeSpan.FromSeconds(30)));

        var outcome = await _table.FailAttemptAsync(id, JobStatus.Inferencing, "CUDA out of memory");

        Assert.Equal(FailureResult.Retried, outcome.Result);
        Assert.Equivalent(await _table.GetAsync(id), outcome.Job, strict: true);
        var job = outcome.Job!;
        Assert.Equal(JobStatus.Preprocessing_complete, job.Status);
        Assert.Equal(1, job.Iteration);
        Assert.Equal("CUDA out of memory", job.LastError);
        Assert.Null(job.Error);
        Assert.Null(job.LeaseDeadline);
        Assert.Null(job.EndTime);
        Assert.Null(await Db.SortedSetScoreAsync($"{_prefix}:leases", id));
        Assert.Equal([id], (await _table.ListByStatusAsync(JobStatus.Preprocessing_complete, 10)).Select(j => j.Id));
        Assert.Empty(await _table.ListByStatusAsync(JobStatus.Inferencing, 10));
    }

    [Fact]
    public async Task FailAttempt_AtTheIterationLimit_ExitsWithTheReason()
    {
        var id = await JobInAsync(JobStatus.Enqueue, 1);
        var results = new List<FailureResult>();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            Assert.True(await _table.TryClaimAsync(id, JobStatus.Preprocessing));
            results.Add((await _table.FailAttemptAsync(id, JobStatus.Preprocessing, $"decode failed #{attempt}")).Result);
        }

        Assert.Equal([FailureResult.Retried, FailureResult.Retried, FailureResult.Exited], results);
        var job = (await _table.GetAsync(id))!;
        Assert.Equal(JobStatus.Exit, job.Status);
        Assert.Equal(3, job.Iteration);
        Assert.Equal("decode failed #3", job.Error);
        Assert.Equal(_time.GetUtcNow(), job.EndTime);
        Assert.Null(job.LeaseDeadline);
        Assert.False(await _table.TryClaimAsync(id, JobStatus.Preprocessing));
    }

    [Fact]
    public async Task FailAttempt_WithAnIterationLimitOfOne_ExitsOnTheFirstFailure()
    {
        var table = NewTable(_server.Connection, iterationLimit: 1);
        var id = await JobInAsync(JobStatus.Enqueue, 1);
        Assert.True(await table.TryClaimAsync(id, JobStatus.Preprocessing));

        var outcome = await table.FailAttemptAsync(id, JobStatus.Preprocessing, "decode failed");

        Assert.Equal(FailureResult.Exited, outcome.Result);
        Assert.Equal(JobStatus.Exit, outcome.Job!.Status);
        Assert.Equal(1, outcome.Job.Iteration);
    }

    [Fact]
    public async Task FailAttempt_Permanent_ExitsAtOnce_WithNoRestartCounted()
    {
        var id = await JobInAsync(JobStatus.Enqueue, 1);
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Preprocessing));

        var outcome = await _table.FailAttemptAsync(id, JobStatus.Preprocessing, "not a video: no video stream", permanent: true);

        Assert.Equal(FailureResult.Exited, outcome.Result);
        Assert.Equal(JobStatus.Exit, outcome.Job!.Status);
        Assert.Equal("not a video: no video stream", outcome.Job.Error);
        Assert.Equal("not a video: no video stream", outcome.Job.LastError);
        // The iteration counts restarts after an error, and a permanent failure is not restarted.
        Assert.Equal(0, outcome.Job.Iteration);
        Assert.Equal(_time.GetUtcNow(), outcome.Job.EndTime);
        Assert.Equal([id], (await _table.ListByStatusAsync(JobStatus.Exit, 10)).Select(j => j.Id));
    }

    // ---- giving a job back (its stage was told to stop) ----

    [Fact]
    public async Task GiveBack_EndsTheLeaseNow_AndTheNextFailAttemptRequeuesWithoutCountingAnAttempt()
    {
        var id = await JobInAsync(JobStatus.Preprocessing_complete, 1);
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Inferencing, TimeSpan.FromMinutes(2)));
        var stopped = Tick();

        Assert.True(await _table.GiveBackAsync(id, JobStatus.Inferencing, "SIGTERM"));

        var given = (await _table.GetAsync(id))!;
        Assert.Equal((JobStatus.Inferencing, stopped, "SIGTERM"), (given.Status, given.LeaseDeadline, given.GivenBack));
        Assert.Equal([id], (await _table.ListExpiredLeasesAsync(stopped, 10)).Select(j => j.Id));
        Assert.False(await _table.GiveBackAsync(id, JobStatus.Postprocessing, "SIGTERM"));

        var outcome = await _table.FailAttemptAsync(id, JobStatus.Inferencing, "lease ran out");

        Assert.Equal(FailureResult.Requeued, outcome.Result);
        var job = outcome.Job!;
        Assert.Equal((JobStatus.Preprocessing_complete, 0, null, null, null), (job.Status, job.Iteration, job.LastError, job.GivenBack, job.LeaseDeadline));
        Assert.Empty(await _table.ListExpiredLeasesAsync(stopped.AddDays(1), 10));
        // Claimed again, the job is an ordinary one: a failure now counts.
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Inferencing));
        Assert.Equal(FailureResult.Retried, (await _table.FailAttemptAsync(id, JobStatus.Inferencing, "CUDA out of memory")).Result);
        Assert.Equal(1, (await _table.GetAsync(id))!.Iteration);
    }

    [Fact]
    public async Task ARetriedChange_WhoseFirstAttemptWasApplied_GetsTheFirstAttemptsAnswer()
    {
        // What a retry after a lost reply sends: the same script, with the same change id, once more.
        var id = await JobInAsync(JobStatus.Enqueue, 1);
        var keys = new JobKeys(_prefix).ForTransition(id);
        var now = JobTime.Format(_time.GetUtcNow());
        RedisValue[] claim = [id, "Enqueue", "Preprocessing", now, now, 0, "change-1"];
        RedisValue[] someoneElses = [id, "Enqueue", "Preprocessing", now, now, 0, "change-2"];
        RedisValue[] fail = [id, "Preprocessing", "decoder crashed", now, 3, "0", "change-3"];

        Assert.Equal(1, (long)await Db.ScriptEvaluateAsync(JobScripts.Transition, keys, claim));
        Assert.Equal(1, (long)await Db.ScriptEvaluateAsync(JobScripts.Transition, keys, claim));
        Assert.Equal(0, (long)await Db.ScriptEvaluateAsync(JobScripts.Transition, keys, someoneElses));
        var failed = (RedisResult[])(await Db.ScriptEvaluateAsync(JobScripts.Fail, keys, fail))!;
        var failedAgain = (RedisResult[])(await Db.ScriptEvaluateAsync(JobScripts.Fail, keys, fail))!;

        Assert.Equal((1L, 1L), ((long)failed[0], (long)failedAgain[0]));
        var job = (await _table.GetAsync(id))!;
        Assert.Equal((JobStatus.Enqueue, 1), (job.Status, job.Iteration));
        Assert.Equal([JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Enqueue], (await _table.GetHistoryAsync(id)).Select(t => t.Status));
    }

    [Fact]
    public async Task FailAttempt_WhenTheJobIsNotInThatStatus_ChangesNothing()
    {
        var id = await JobInAsync(JobStatus.Preprocessing_complete, 1);
        var before = await SnapshotAsync(id);

        var outcome = await _table.FailAttemptAsync(id, JobStatus.Preprocessing, "late failure report");

        Assert.Equal(FailureResult.NotInStatus, outcome.Result);
        Assert.Equal(JobStatus.Preprocessing_complete, outcome.Job!.Status);
        Assert.Equal(before, await SnapshotAsync(id));
    }

    [Fact]
    public async Task FailAttempt_UnknownJob_ReturnsNotInStatusWithoutAJob()
    {
        var outcome = await _table.FailAttemptAsync(42, JobStatus.Preprocessing, "whatever");

        Assert.Equal(new FailureOutcome(FailureResult.NotInStatus, null), outcome);
    }

    // ---- delete ----

    [Fact]
    public async Task Delete_AnEndedJob_RemovesItsRecordHistoryAndIndexEntries_AndOnlyItsOwn()
    {
        var id = await JobInAsync(JobStatus.Exit, 1);
        var other = await JobInAsync(JobStatus.Exit, 2);
        var otherBefore = await SnapshotAsync(other);

        Assert.True(await _table.DeleteAsync(id));

        Assert.Null(await _table.GetAsync(id));
        Assert.Empty(await _table.GetHistoryAsync(id));
        Assert.Equal(new SortedDictionary<string, string>(StringComparer.Ordinal) { ["history"] = "" }, await SnapshotAsync(id));
        Assert.Equal([other], (await _table.ListByUserAsync("alice", 0, 10)).Jobs.Select(j => j.Id));
        Assert.Equal(1, (await _table.ListByUserAsync("alice", 0, 10)).Total);
        Assert.Equal(otherBefore, await SnapshotAsync(other));
        // The upload's mapping is gone too: the same upload arriving again makes a new job.
        var again = await _table.CreateAsync(Upload("alice", 1));
        Assert.True(again.Created);
        Assert.NotEqual(id, again.Job.Id);
    }

    [Theory]
    [InlineData(JobStatus.Enqueue)]
    [InlineData(JobStatus.Inferencing)]
    [InlineData(JobStatus.Postprocessing_complete)]
    public async Task Delete_AJobThatHasNotEnded_ReturnsFalseAndChangesNothing(JobStatus status)
    {
        var id = await JobInAsync(status, 1);
        var before = await SnapshotAsync(id);

        Assert.False(await _table.DeleteAsync(id));

        Assert.Equal(before, await SnapshotAsync(id));
    }

    [Fact]
    public async Task Delete_AJobThatIsGone_ReturnsTrue_SoARepeatedDeleteIsDone() =>
        Assert.True(await _table.DeleteAsync(42));

    [Fact]
    public async Task ExitWithError_FromAWorkingStatus_EndsTheJobWithTheReasonAndDropsTheLease()
    {
        var id = await JobInAsync(JobStatus.Preprocessing_complete, 1);
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Inferencing));
        var ended = Tick();

        Assert.True(await _table.ExitWithErrorAsync(id, "cancelled by alice"));

        var job = (await _table.GetAsync(id))!;
        Assert.Equal(JobStatus.Exit, job.Status);
        Assert.Equal("cancelled by alice", job.Error);
        Assert.Equal(ended, job.EndTime);
        Assert.Null(job.LeaseDeadline);
        Assert.Null(await Db.SortedSetScoreAsync($"{_prefix}:leases", id));
        Assert.Empty(await _table.ListByStatusAsync(JobStatus.Inferencing, 10));
    }

    [Fact]
    public async Task ExitWithError_FromEnqueue_EndsTheJob()
    {
        var id = await JobInAsync(JobStatus.Enqueue, 1);

        Assert.True(await _table.ExitWithErrorAsync(id, "unsupported container"));

        Assert.Equal(JobStatus.Exit, (await _table.GetAsync(id))!.Status);
    }

    [Fact]
    public async Task ExitWithError_WhenTheJobHasEnded_ReturnsFalseAndChangesNothing()
    {
        var id = await JobInAsync(JobStatus.Exit, 1);
        var before = await SnapshotAsync(id);

        Assert.False(await _table.ExitWithErrorAsync(id, "too late"));

        Assert.Equal(before, await SnapshotAsync(id));
    }

    [Fact]
    public async Task ExitWithError_FromTheStatusTheJobIsIn_EndsTheJob()
    {
        var id = await JobInAsync(JobStatus.Preprocessing_complete, 1);

        Assert.True(await _table.ExitWithErrorAsync(id, "infer unreachable", JobStatus.Preprocessing_complete));

        var job = (await _table.GetAsync(id))!;
        Assert.Equal(JobStatus.Exit, job.Status);
        Assert.Equal("infer unreachable", job.Error);
    }

    [Fact]
    public async Task ExitWithError_FromAStatusTheJobHasLeft_ReturnsFalseAndChangesNothing()
    {
        var id = await JobInAsync(JobStatus.Enqueue, 1);
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Preprocessing));
        var before = await SnapshotAsync(id);

        Assert.False(await _table.ExitWithErrorAsync(id, "preprocess unreachable", JobStatus.Enqueue));

        Assert.Equal(before, await SnapshotAsync(id));
    }

    [Fact]
    public async Task ExitWithError_UnknownJob_ReturnsFalse()
    {
        Assert.False(await _table.ExitWithErrorAsync(42, "nothing there"));
        Assert.False(await Db.KeyExistsAsync($"{_prefix}:job:42"));
    }

    // ---- concurrency, over several connections as separate workers would be ----

    [Fact]
    public async Task FiftyConcurrentClaimsOfOneJob_ExactlyOneSucceeds()
    {
        var tables = _server.Connections.Select(c => NewTable(c)).ToArray();
        var id = await JobInAsync(JobStatus.Enqueue, 1);

        foreach (var working in JobStateMachine.WorkingStatuses)
        {
            var claims = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => tables[i % tables.Length].TryClaimAsync(id, working)));

            Assert.Equal(1, claims.Count(claimed => claimed));
            Assert.True(await _table.TryTransitionAsync(id, working, JobStateMachine.CompletionOf(working)));
        }
        Assert.Equal(JobStatus.Postprocessing_complete, (await _table.GetAsync(id))!.Status);
    }

    [Fact]
    public async Task AThousandConcurrentCreates_GetAThousandDistinctIds()
    {
        var tables = _server.Connections.Select(c => NewTable(c)).ToArray();

        var created = await Task.WhenAll(Enumerable.Range(1, 1000).Select(i => tables[i % tables.Length].CreateAsync(Upload("alice", i))));

        Assert.All(created, c => Assert.True(c.Created));
        Assert.Equal(Enumerable.Range(1, 1000).Select(i => (long)i), created.Select(c => c.Job.Id).Order());
        Assert.Equal("1000", (string?)await Db.StringGetAsync($"{_prefix}:jobs:next-id"));
        Assert.Equal(1000, await Db.SortedSetLengthAsync($"{_prefix}:status:Enqueue"));
        Assert.Equal(1000, (await _table.ListByUserAsync("alice", 0, 1)).Total);
        var stored = await Task.WhenAll(created.Select(c => _table.GetAsync(c.Job.Id)));
        Assert.Equal(created.Select(c => c.Job.Path).Order(), stored.Select(j => j!.Path).Order());
    }

    [Fact]
    public async Task TwentyConcurrentSubmissionsOfOneUpload_CreateOneJob()
    {
        var tables = _server.Connections.Select(c => NewTable(c)).ToArray();

        var submissions = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => tables[i % tables.Length].CreateAsync(Upload("alice", 7))));

        Assert.Equal(1, submissions.Count(s => s.Created));
        Assert.Equal([1L], submissions.Select(s => s.Job.Id).Distinct());
        Assert.Equal("1", (string?)await Db.StringGetAsync($"{_prefix}:jobs:next-id"));
        Assert.Equal(1, await Db.SortedSetLengthAsync($"{_prefix}:status:Enqueue"));
    }

    // ---- history ----

    [Fact]
    public async Task History_RecordsEveryStatusTheJobEntered_WithItsTime_InOrder()
    {
        var created = _time.GetUtcNow();
        var id = (await _table.CreateAsync(Upload("alice", 1))).Job.Id;
        var expected = new List<JobTransition> { new(JobStatus.Enqueue, created) };
        foreach (var (from, to) in ForwardMoves(JobStatus.Enqueue, JobStatus.Exit))
        {
            expected.Add(new JobTransition(to, Tick()));
            Assert.True(await _table.TryTransitionAsync(id, from, to));
        }

        Assert.Equal(expected, await _table.GetHistoryAsync(id));
    }

    [Fact]
    public async Task History_OfARetriedJob_ShowsItsWayBack_AndRefusedMovesLeaveNoTrace()
    {
        var id = (await _table.CreateAsync(Upload("alice", 1))).Job.Id;
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Preprocessing));
        Assert.False(await _table.TryTransitionAsync(id, JobStatus.Enqueue, JobStatus.Preprocessing));
        Assert.False(await _table.TryTransitionAsync(id, JobStatus.Preprocessing, JobStatus.Inferencing));
        await _table.FailAttemptAsync(id, JobStatus.Preprocessing, "ffmpeg died");
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Preprocessing));

        Assert.Equal(
            [JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Enqueue, JobStatus.Preprocessing],
            (await _table.GetHistoryAsync(id)).Select(t => t.Status));
    }

    // ---- segments ----

    [Fact]
    public async Task Split_CutsAJobTheFirstStageClaimed_IntoSegmentsWaitingForIt_AndEndsTheJobsOwnLease()
    {
        var id = (await _table.CreateAsync(Upload("alice", 1))).Job.Id;
        Assert.False(await _table.SplitAsync(id, [0, 10]));
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Preprocessing));

        Assert.True(await _table.SplitAsync(id, [0, 10.08, 20.5]));

        var job = await _table.GetAsync(id);
        Assert.Equal((JobStatus.Preprocessing, 3, (DateTimeOffset?)null), (job!.Status, job.Segments, job.LeaseDeadline));
        Assert.Null(await Db.SortedSetScoreAsync($"{_prefix}:leases", id));
        var segments = await _table.GetSegmentsAsync(id);
        Assert.Equal([0, 1, 2], segments.Select(s => s.Index));
        Assert.All(segments, s => Assert.Equal((JobStatus.Enqueue, 0), (s.Status, s.Iteration)));
        Assert.Equal([0, 10.08, 20.5], segments.Select(s => s.Start));
        Assert.False(await _table.SplitAsync(id, [0]));
        Assert.Equal("3", (await Db.HashGetAsync($"{_prefix}:job:{id}", "segments")).ToString());
    }

    [Fact]
    public async Task Segments_TheJobFollowsItsLeastAdvancedSegment_PassingTheEightStatusesInOrder()
    {
        var id = await SplitJobAsync(2);
        // Segment 0 runs ahead through every stage; the job waits for segment 1.
        foreach (var stage in PipelineTopology.Stages)
        {
            if (stage != PipelineTopology.First)
                Assert.Equal(new SegmentMove(true, false), await _table.TryClaimSegmentAsync(id, 0, stage.Working, "host/1"));
            else
                Assert.True((await _table.TryClaimSegmentAsync(id, 0, stage.Working, "host/1")).Moved);
            Assert.Equal(new SegmentMove(true, false), await _table.TryCompleteSegmentAsync(id, 0, stage.Working, "host/1"));
        }

        Assert.Equal(JobStatus.Preprocessing, (await _table.GetAsync(id))!.Status);
        var moves = new List<SegmentMove>();
        foreach (var stage in PipelineTopology.Stages)
        {
            moves.Add(await _table.TryClaimSegmentAsync(id, 1, stage.Working, "host/2"));
            moves.Add(await _table.TryCompleteSegmentAsync(id, 1, stage.Working, "host/2", new Dictionary<string, string> { [$"{stage.Name}_seconds"] = "1.5" }));
        }

        // Enqueue -> Preprocessing counts as no move of the job: the first stage had already cut it.
        Assert.Equal([false, true, true, true, true, true], moves.Select(m => m.JobMoved));
        Assert.True(await _table.TryTransitionAsync(id, JobStatus.Postprocessing_complete, JobStatus.Exit));
        Assert.Equal(JobStateMachine.Statuses, (await _table.GetHistoryAsync(id)).Select(t => t.Status));
        var segment = (await _table.GetSegmentsAsync(id))[1];
        Assert.Equal((JobStatus.Postprocessing_complete, "host/2", "1.5"), (segment.Status, segment.Worker, segment.Fields["postprocess_seconds"]));
        var history = await _table.GetSegmentHistoryAsync(id);
        Assert.Equal(2 * (1 + 6), history.Count);
        Assert.Equal(
            [JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Preprocessing_complete, JobStatus.Inferencing, JobStatus.Inferencing_complete, JobStatus.Postprocessing, JobStatus.Postprocessing_complete],
            history.Where(t => t.Segment == 1).Select(t => t.Status));
        Assert.All(history.Where(t => t.Segment == 1 && t.Status != JobStatus.Enqueue), t => Assert.Equal("host/2", t.Worker));
    }

    [Fact]
    public async Task Transitions_AreCounted_EachOfAJobsEightStatusesOnce_AndEachSegmentStatusOncePerSegment()
    {
        var id = await SplitJobAsync(2);
        foreach (var segment in new[] { 0, 1 })
        {
            foreach (var stage in PipelineTopology.Stages)
            {
                Assert.True((await _table.TryClaimSegmentAsync(id, segment, stage.Working, "host/1")).Moved);
                Assert.True((await _table.TryCompleteSegmentAsync(id, segment, stage.Working, "host/1")).Moved);
            }
        }

        // A duplicate changes nothing, and is not counted.
        Assert.False((await _table.TryClaimSegmentAsync(id, 1, JobStatus.Inferencing, "host/2")).Moved);
        Assert.True(await _table.TryTransitionAsync(id, JobStatus.Postprocessing_complete, JobStatus.Exit));

        var samples = await MetricSamples.ReadAsync(Metrics);
        Assert.All(JobStateMachine.Statuses, status => Assert.Equal(1, samples[$"gedge_job_transitions_total{{status=\"{status}\"}}"]));
        Assert.All(JobStateMachine.Statuses, status => Assert.Equal(status == JobStatus.Exit ? 0 : 2, samples[$"gedge_segment_transitions_total{{status=\"{status}\"}}"]));
    }

    [Fact]
    public async Task Transitions_AFailedSegmentAttempt_CountsTheSegmentsReturn_AndTheLimitCountsTheJobsExit()
    {
        var id = await SplitJobAsync(1);
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            Assert.True((await _table.TryClaimSegmentAsync(id, 0, JobStatus.Preprocessing, "host/1")).Moved);
            await _table.FailSegmentAttemptAsync(id, 0, JobStatus.Preprocessing, $"ffmpeg died #{attempt}");
        }

        var samples = await MetricSamples.ReadAsync(Metrics);
        // Enqueue: the cut, then two retries; the third failure is the limit, which ends the job instead.
        Assert.Equal(3, samples["gedge_segment_transitions_total{status=\"Enqueue\"}"]);
        Assert.Equal(3, samples["gedge_segment_transitions_total{status=\"Preprocessing\"}"]);
        Assert.Equal(1, samples["gedge_job_transitions_total{status=\"Exit\"}"]);
        Assert.Equal(JobStatus.Exit, (await _table.GetAsync(id))!.Status);
    }

    [Fact]
    public async Task Segments_AJobCutIntoSegments_IsMovedByHandOnlyToExit()
    {
        var id = await SplitJobAsync(1);

        Assert.False(await _table.TryTransitionAsync(id, JobStatus.Preprocessing, JobStatus.Preprocessing_complete));
        Assert.False(await _table.TryClaimAsync(id, JobStatus.Preprocessing));
        Assert.Equal(FailureResult.NotInStatus, (await _table.FailAttemptAsync(id, JobStatus.Preprocessing, "x")).Result);
        Assert.Equal(JobStatus.Preprocessing, (await _table.GetAsync(id))!.Status);
    }

    [Fact]
    public async Task ClaimSegment_FiftyAtOnce_ExactlyOneSucceeds()
    {
        var id = await SplitJobAsync(2);

        var claims = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => _table.TryClaimSegmentAsync(id, 1, JobStatus.Preprocessing, $"host/{i}")));

        Assert.Single(claims, c => c.Moved);
        Assert.Equal(JobStatus.Enqueue, (await _table.GetSegmentsAsync(id))[0].Status);
    }

    [Fact]
    public async Task FailSegment_BelowTheLimit_RequeuesTheSegment_AndTheJobsIterationIsTheHighest()
    {
        var id = await SplitJobAsync(2);
        await _table.TryClaimSegmentAsync(id, 1, JobStatus.Preprocessing, "host/1");

        var outcome = await _table.FailSegmentAttemptAsync(id, 1, JobStatus.Preprocessing, "segment 1: ffmpeg died");

        Assert.Equal((FailureResult.Retried, 1), (outcome.Result, outcome.SegmentIteration));
        Assert.Equal((JobStatus.Preprocessing, 1, "segment 1: ffmpeg died"), (outcome.Job!.Status, outcome.Job.Iteration, outcome.Job.LastError));
        var segments = await _table.GetSegmentsAsync(id);
        Assert.Equal((JobStatus.Enqueue, 1, (DateTimeOffset?)null), (segments[1].Status, segments[1].Iteration, segments[1].LeaseDeadline));
        Assert.Equal(0, segments[0].Iteration);
        Assert.Null(await Db.SortedSetScoreAsync($"{_prefix}:segment-leases", $"{id}:1"));
    }

    [Fact]
    public async Task FailSegment_AtTheLimit_EndsTheJob_AndStopsItsOtherSegments()
    {
        var id = await SplitJobAsync(3);
        Assert.True((await _table.TryClaimSegmentAsync(id, 0, JobStatus.Preprocessing, "host/1")).Moved);
        SegmentFailureOutcome outcome = null!;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            Assert.True((await _table.TryClaimSegmentAsync(id, 2, JobStatus.Preprocessing, "host/2")).Moved);
            outcome = await _table.FailSegmentAttemptAsync(id, 2, JobStatus.Preprocessing, "segment 2: out of memory");
        }

        Assert.Equal((FailureResult.Exited, 3), (outcome.Result, outcome.SegmentIteration));
        var job = await _table.GetAsync(id);
        Assert.Equal((JobStatus.Exit, 3, "segment 2: out of memory"), (job!.Status, job.Iteration, job.Error));
        Assert.NotNull(job.EndTime);
        Assert.Null(await Db.SortedSetScoreAsync($"{_prefix}:segment-leases", $"{id}:0"));
        Assert.False(await _table.RenewSegmentLeaseAsync(id, 0, JobStatus.Preprocessing));
        Assert.False((await _table.TryCompleteSegmentAsync(id, 0, JobStatus.Preprocessing, "host/1")).Moved);
        Assert.False((await _table.TryClaimSegmentAsync(id, 1, JobStatus.Preprocessing, "host/1")).Moved);
    }

    [Fact]
    public async Task FailSegment_Permanent_EndsTheJobAtOnce_WithNoAttemptCounted()
    {
        var id = await SplitJobAsync(2);
        await _table.TryClaimSegmentAsync(id, 0, JobStatus.Preprocessing, "host/1");

        var outcome = await _table.FailSegmentAttemptAsync(id, 0, JobStatus.Preprocessing, "segment 0: not a video", permanent: true);

        Assert.Equal((FailureResult.Exited, 0), (outcome.Result, outcome.SegmentIteration));
        Assert.Equal((JobStatus.Exit, 0, "segment 0: not a video"), (outcome.Job!.Status, outcome.Job.Iteration, outcome.Job.Error));
    }

    [Fact]
    public async Task GiveBackSegment_EndsItsLeaseNow_AndTheNextFailureRequeuesItWithoutCounting()
    {
        var id = await SplitJobAsync(2);
        await _table.TryClaimSegmentAsync(id, 1, JobStatus.Preprocessing, "host/1");

        Assert.True(await _table.GiveBackSegmentAsync(id, 1, JobStatus.Preprocessing, "its process was stopping"));

        var expired = Assert.Single(await _table.ListExpiredSegmentLeasesAsync(_time.GetUtcNow(), 10));
        Assert.Equal((id, 1, "its process was stopping"), (expired.JobId, expired.Segment.Index, expired.Segment.GivenBack));
        var outcome = await _table.FailSegmentAttemptAsync(id, 1, JobStatus.Preprocessing, "taken back");
        Assert.Equal((FailureResult.Requeued, 0, 0), (outcome.Result, outcome.SegmentIteration, outcome.Job!.Iteration));
        Assert.Equal(JobStatus.Enqueue, (await _table.GetSegmentsAsync(id))[1].Status);
    }

    [Fact]
    public async Task SegmentLeases_RunOutUnlessRenewed()
    {
        var id = await SplitJobAsync(2);
        await _table.TryClaimSegmentAsync(id, 0, JobStatus.Preprocessing, "host/1", TimeSpan.FromMinutes(1));
        await _table.TryClaimSegmentAsync(id, 1, JobStatus.Preprocessing, "host/1", TimeSpan.FromMinutes(1));
        _time.Advance(TimeSpan.FromSeconds(50));
        Assert.True(await _table.RenewSegmentLeaseAsync(id, 1, JobStatus.Preprocessing, TimeSpan.FromMinutes(1)));
        _time.Advance(TimeSpan.FromSeconds(20));

        var expired = Assert.Single(await _table.ListExpiredSegmentLeasesAsync(_time.GetUtcNow(), 10));

        Assert.Equal((id, 0), (expired.JobId, expired.Segment.Index));
    }

    [Fact]
    public async Task ExitWithError_OfAJobCutIntoSegments_EndsEverySegmentsLease()
    {
        var id = await SplitJobAsync(2);
        await _table.TryClaimSegmentAsync(id, 0, JobStatus.Preprocessing, "host/1");

        Assert.True(await _table.ExitWithErrorAsync(id, "cancelled by the user"));

        Assert.Empty(await _table.ListExpiredSegmentLeasesAsync(_time.GetUtcNow() + TimeSpan.FromDays(1), 10));
        Assert.False(await _table.RenewSegmentLeaseAsync(id, 0, JobStatus.Preprocessing));
    }

    [Fact]
    public async Task Delete_OfAJobCutIntoSegments_RemovesTheSegmentsToo()
    {
        var id = await SplitJobAsync(2);
        await _table.ExitWithErrorAsync(id, "cancelled by the user");

        Assert.True(await _table.DeleteAsync(id));

        Assert.False(await Db.KeyExistsAsync($"{_prefix}:job:{id}:segments"));
        Assert.False(await Db.KeyExistsAsync($"{_prefix}:job:{id}:segments:history"));
    }

    // ---- helpers ----

    private async Task<long> SplitJobAsync(int segments)
    {
        var id = (await _table.CreateAsync(Upload("alice", 1))).Job.Id;
        Assert.True(await _table.TryClaimAsync(id, JobStatus.Preprocessing));
        Assert.True(await _table.SplitAsync(id, [.. Enumerable.Range(0, segments).Select(i => i * 10.0)]));
        return id;
    }

    private JobTable NewTable(IConnectionMultiplexer connection, int iterationLimit = 3) =>
        new(connection, Options.Create(new JobTableOptions { KeyPrefix = _prefix, IterationLimit = iterationLimit }), _time,
            Metrics, NullLogger<JobTable>.Instance);

    private static NewJob Upload(string user, int n) => new(user, $"uploads/{user}/clip{n}.mp4", "mp4", $"etag-{n}");

    /// <summary>Moves the clock on by a minute and returns the new time.</summary>
    private DateTimeOffset Tick()
    {
        _time.Advance(TimeSpan.FromMinutes(1));
        return _time.GetUtcNow();
    }

    /// <summary>Creates a job and walks it, by legal moves, to <paramref name="status"/>.</summary>
    private async Task<long> JobInAsync(JobStatus status, int n)
    {
        var id = (await _table.CreateAsync(Upload("alice", n))).Job.Id;
        if (status == JobStatus.Exit)
            Assert.True(await _table.TryTransitionAsync(id, JobStatus.Enqueue, JobStatus.Exit));
        else
            foreach (var (from, to) in ForwardMoves(JobStatus.Enqueue, status))
                Assert.True(await _table.TryTransitionAsync(id, from, to));
        return id;
    }

    private static IEnumerable<(JobStatus From, JobStatus To)> ForwardMoves(JobStatus from, JobStatus to)
    {
        for (var s = from; s < to; s++)
            yield return (s, s + 1);
    }

    /// <summary>Everything the job table keeps about a job: its whole hash and its entries in every index.</summary>
    private async Task<SortedDictionary<string, string>> SnapshotAsync(long id)
    {
        var snapshot = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in await Db.HashGetAllAsync($"{_prefix}:job:{id}"))
            snapshot["hash:" + entry.Name] = entry.Value.ToString();
        foreach (var status in JobStateMachine.Statuses)
        {
            if (await Db.SortedSetScoreAsync($"{_prefix}:status:{status}", id) is { } score)
                snapshot["index:" + status] = score.ToString(CultureInfo.InvariantCulture);
        }
        if (await Db.SortedSetScoreAsync($"{_prefix}:leases", id) is { } deadline)
            snapshot["index:leases"] = deadline.ToString(CultureInfo.InvariantCulture);
        snapshot["history"] = string.Join(",", await Db.ListRangeAsync($"{_prefix}:job:{id}:history"));
        return snapshot;
    }
}
