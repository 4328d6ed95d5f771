using System.Text.Json;
using GEdge.Contracts;

namespace GEdge.Cluster.Tests;

/// <summary>
/// `gedge serve` stopped as a whole mid-job (a container stop's SIGTERM, or a terminal's Ctrl+C to its process group)
/// and started again: the stage in hand gives its job back while the broker and the job table still run, so after the
/// restart the job completes without a failed attempt, as if its stage had been told to stop alone.
/// </summary>
[Collection(OneClusterAtATime.Name)]
public sealed class ServeStopTests
{
    private static readonly TimeSpan s_jobTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task Serve_StoppedMidJob_ByItsSigtermOrAGroupCtrlC_GivesTheJobBack_AndAfterARestartItCompletesAtIterationZero()
    {
        var video = await TestClips.LongAsync();
        var cluster = new ReliabilityClusterFixture();
        await cluster.InitializeAsync();
        try
        {
            var facts = new List<JobResultsFacts>();
            // A container stop: SIGTERM to serve alone, while Infer works; then a terminal's Ctrl+C: SIGINT to serve's whole
            // process group, while Preprocess works. One job at a time, so each is stopped once.
            foreach (var (working, signal, group, stop) in new[] { (JobStatus.Inferencing, "TERM", false, 1), (JobStatus.Preprocessing, "INT", true, 2) })
            {
                var id = await StopMidStageAsync(cluster, video, working, signal, group, stop);
                var job = await cluster.WaitForJobExitAsync(id, s_jobTimeout);
                Assert.Null(job.Error);
                Assert.Equal(0, job.Iteration);
                Assert.Null(job.LastError);
                Assert.True(await ClusterJobs.WasRedoneAsync(cluster.Jobs, id, working), $"nothing of job {id} entered {working} twice");
                Assert.Equal(JobStatus.Exit, (await cluster.Jobs.GetHistoryAsync(id))[^1].Status);
                Assert.True(await cluster.WorkFolderRemovedAsync(id), $"job {id}'s intermediates were left behind");
                facts.Add(await JobResultsFacts.ReadAsync(cluster.ResultsFolder(job)));
            }

            // Every frame of the clip (road.mp4 eight times over) is in each job's results, and both agree.
            using var frames = JsonDocument.Parse(facts[0].Frames);
            Assert.Equal(304, frames.RootElement.GetArrayLength());
            Assert.Equal(facts[0], facts[1]);
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    // Submits the clip, stops serve with the signal once its first segment is in `working`, checks in the logs (which the restarts
    // append to) that the stage gave the job back and that every process was asked to stop, for the `stop`th time, and
    // starts serve again; returns the job's id.
    private static async Task<long> StopMidStageAsync(ClusterFixture cluster, string video, JobStatus working, string signal, bool processGroup, int stop)
    {
        var id = await cluster.SubmitAsync(video);
        // The first segment (10.5 s of the 12) is seconds of work in either stage, well beyond the stages' grace.
        await cluster.WaitForSegmentAsync(id, 0, working, s_jobTimeout);
        var stage = PipelineTopology.Stages.Single(s => s.Working == working);

        var stopped = System.Diagnostics.Stopwatch.StartNew();
        var exitCode = await cluster.StopServeAsync(signal, processGroup);
        // Serve's own bound is the stages' grace (17 s), then the gateway's and broker's (5 s), then the job table's (5 s);
        // the fixture kills it (137) after 40 s. What serve said, and when, tells which part did not stop.
        Assert.True(exitCode == 0, $"serve exited {exitCode} {stopped.Elapsed.TotalSeconds:0.0} s after SIG{signal}:{Environment.NewLine}{cluster.Output()}");

        // The job (being cut) or its segments in hand: each given back once.
        var givenBack = (await cluster.WaitForLogLinesAsync(stage.Name, $"given back by its {working} stage", 1))
            .Where(line => line.Contains($"Job {id} ", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(givenBack);
        Assert.Equal(givenBack.Count, givenBack.Distinct().Count());
        foreach (var process in new[] { "gateway", "broker", "preprocess", "infer", "postprocess" })
        {
            Assert.Equal(stop, (await cluster.WaitForLogLinesAsync(process, "Application is shutting down...", stop)).Count);
        }

        await cluster.RestartServeAsync();
        return id;
    }
}
