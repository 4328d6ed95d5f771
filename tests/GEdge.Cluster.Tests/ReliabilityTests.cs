using GEdge.Contracts;
using GEdge.JobTable;
using StackExchange.Redis;

namespace GEdge.Cluster.Tests;

/// <summary>
/// Crashes, restarts and failures on the local cluster of separate processes, as edge nodes have them: a stage process
/// killed outright (and started again by serve, as a kubelet would), a stage told to stop, redis-server killed under load,
/// and a stage that fails every time. A job finishes exactly once, or ends in Exit with its reason.
/// </summary>
[Collection(OneClusterAtATime.Name)]
public sealed class ReliabilityTests(ReliabilityClusterFixture cluster) : IClassFixture<ReliabilityClusterFixture>
{
    private static readonly TimeSpan s_jobTimeout = TimeSpan.FromMinutes(4);

    // Preprocess, the stage that writes the most, is killed on S3 storage (S3ClusterTests), as a deployment stores.
    [Theory]
    [InlineData("infer", JobStatus.Inferencing)]
    [InlineData("postprocess", JobStatus.Postprocessing)]
    public Task AStageProcessKilledMidJob_IsStartedAgain_AndTheJobCompletesOnItsSecondAttempt_WithTheSameResults(string stage, JobStatus working) =>
        ClusterScenarios.StageKilledMidJobAsync(cluster, stage, working);

    [Fact]
    public async Task AStageProcessToldToStop_GivesItsJobBack_AndTheJobCompletesWithoutAFailedAttempt()
    {
        var video = await TestClips.LongAsync();
        var undisturbed = await cluster.UndisturbedResultsAsync(video);
        var id = await cluster.SubmitAsync(video);
        // Stopped while the first segment (10.5 s of the 12) is preprocessed, seconds of work, not during the cut: a cut
        // by stream copy can end within the half second of grace, and then there is nothing to give back (CI saw that).
        await cluster.WaitForSegmentAsync(id, 0, JobStatus.Preprocessing, s_jobTimeout);
        var stopped = cluster.FunctionPid("preprocess");
        var restartsBefore = (await cluster.WaitForServeLinesAsync("gedge: preprocess started again", 0, TimeSpan.Zero)).Count;

        // SIGTERM, as a kubelet sends before it removes a pod: the stage has half a second (Stages__ShutdownGrace) to finish.
        await ClusterFixture.SignalAsync(stopped, "TERM");

        var job = await cluster.WaitForJobExitAsync(id, s_jobTimeout);
        Assert.Null(job.Error);
        Assert.Equal(0, job.Iteration);
        Assert.Null(job.LastError);
        Assert.Null(job.GivenBack);
        Assert.True(await ClusterJobs.WasRedoneAsync(cluster.Jobs, id, JobStatus.Preprocessing), $"nothing of job {id} entered Preprocessing twice");
        // Given back by the stopping stage, and taken back by the sweep without counting: the cut (the job) or a segment.
        Assert.Contains(
            await cluster.WaitForLogLinesAsync("preprocess", "given back by its Preprocessing stage: Preprocessing was stopped: its process was told to stop", 1),
            line => line.Contains($"Job {id} ", StringComparison.Ordinal));
        Assert.Contains(
            await cluster.WaitForLogLinesAsync("gateway", "Preprocessing given back by its stage", 1),
            line => line.Contains($"{id} ", StringComparison.Ordinal) && line.Contains("taken back from Preprocessing to Enqueue", StringComparison.Ordinal));
        await cluster.WaitForServeLinesAsync("gedge: preprocess started again", restartsBefore + 1, TimeSpan.FromSeconds(30));
        Assert.NotEqual(stopped, cluster.FunctionPid("preprocess"));
        Assert.Equal(undisturbed, await JobResultsFacts.ReadAsync(cluster.ResultsFolder(job)));
    }

    [Fact]
    public async Task AStageThatFailsEveryTime_EndsTheJobInExit_AfterExactlyTheIterationLimit_WithTheReason()
    {
        // A real fault, not a hook: where this job's results go is a file, so Postprocess cannot write them, every time.
        var id = await cluster.SubmitAsync(TestClips.Road);
        var created = (await cluster.Jobs.GetAsync(id))!;
        var results = cluster.ResultsFolder(created);
        Directory.CreateDirectory(Path.GetDirectoryName(results)!);
        await File.WriteAllTextAsync(results, "not a folder");

        var job = await cluster.WaitForJobExitAsync(id, s_jobTimeout);

        // The results are written when the segments' are joined: the join fails, three times, each a counted attempt.
        Assert.Equal(3, job.Iteration);
        Assert.StartsWith("Postprocessing failed: ", job.Error, StringComparison.Ordinal);
        Assert.Equal(job.Error, job.LastError);
        var history = (await cluster.Jobs.GetHistoryAsync(id)).Select(t => t.Status).ToList();
        Assert.Equal(JobStateMachine.Statuses, history);
        Assert.All(await cluster.Jobs.GetSegmentsAsync(id), s => Assert.Equal((JobStatus.Postprocessing_complete, 0), (s.Status, s.Iteration)));
        Assert.Equal(3, (await cluster.WaitForLogLinesAsync("postprocess", $"{id} Postprocessing attempt failed", 3)).Count);
        // Each retry after a backoff that doubles (Stages:RetryDelay, 2 s): a fault that lasts seconds does not use up the attempts.
        Assert.Equal(
            [$"{id} announced in Postprocessing_complete again in 2 s (retry backoff)", $"{id} announced in Postprocessing_complete again in 4 s (retry backoff)"],
            (await cluster.WaitForLogLinesAsync("postprocess", $"{id} announced in Postprocessing_complete again in ", 2)).Select(line => line[line.IndexOf($"{id} announced", StringComparison.Ordinal)..]));
        Assert.True(await cluster.WorkFolderRemovedAsync(id), "the failed job's intermediates were left behind");
        Assert.Equal("not a folder", await File.ReadAllTextAsync(results));
    }

    [Fact]
    public async Task RedisServerKilledAndStartedAgainDuringTenJobs_LosesNone_AndDuplicatesNone()
    {
        var video = TestClips.Road;
        var undisturbed = await cluster.UndisturbedResultsAsync(video);
        var database = cluster.Redis.GetDatabase();
        var before = (long)await database.StringGetAsync("gedge:jobs:next-id");
        var killedPid = cluster.JobTableServerPid();
        var restartsBefore = (await cluster.WaitForServeLinesAsync("gedge: the job table server is serving again", 0, TimeSpan.Zero)).Count;

        var ids = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => cluster.SubmitAsync(video)));
        // Killed while the jobs are on their way: some in a stage, some waiting, none finished.
        await cluster.WaitForJobAsync(ids[0], job => JobStateMachine.IsWorking(job.Status) || job.Status == JobStatus.Exit, s_jobTimeout);
        await ClusterFixture.SignalAsync(killedPid, "KILL");
        await cluster.WaitForServeLinesAsync("gedge: the job table server is serving again", restartsBefore + 1, TimeSpan.FromMinutes(1));

        var jobs = new List<Job>();
        foreach (var id in ids)
        {
            jobs.Add(await cluster.WaitForJobExitAsync(id, s_jobTimeout));
        }

        Assert.NotEqual(killedPid, cluster.JobTableServerPid());
        Assert.All(jobs, job => Assert.Null(job.Error));
        Assert.Equal(ids.Order(), jobs.Select(j => j.Id).Order());
        // None lost and none duplicated: exactly ten jobs were made, each ran to Exit once, each with its own results.
        Assert.Equal(before + 10, (long)await database.StringGetAsync("gedge:jobs:next-id"));
        Assert.Equal(Enumerable.Range((int)before + 1, 10).Select(i => (long)i), ids.Order());
        foreach (var job in jobs)
        {
            var history = (await cluster.Jobs.GetHistoryAsync(job.Id)).Select(t => t.Status).ToList();
            Assert.Equal(1, history.Count(s => s == JobStatus.Exit));
            Assert.Equal(1, history.Count(s => s == JobStatus.Postprocessing_complete));
            Assert.Equal(undisturbed, await JobResultsFacts.ReadAsync(cluster.ResultsFolder(job)));
        }
    }
}
