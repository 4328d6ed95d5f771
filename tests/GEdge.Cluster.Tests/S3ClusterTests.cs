using System.Net;
using GEdge.Contracts;
using GEdge.Jobs;
using Minio;
using Minio.DataModel.Args;
using Xunit.Abstractions;

namespace GEdge.Cluster.Tests;

/// <summary>
/// The local cluster on S3 storage (<see cref="S3ClusterFixture"/>), as a Knative deployment runs it on MinIO: the
/// pipeline, a stage killed mid-job and many jobs at once (the scenarios the folder cluster runs too: the folder cluster
/// kills the other two stages), a cancel while a segment is preprocessed, the MinIO upload path, and a job deleted. After each,
/// the server's own folder holds nothing of a job's intermediates.
/// </summary>
[Collection(OneClusterAtATime.Name)]
public sealed class S3ClusterTests(S3ClusterFixture cluster, ITestOutputHelper output) : IClassFixture<S3ClusterFixture>, IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("gedge-s3-cluster-test-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public Task Submit_RunsTheJobThroughTheFourFunctionProcesses_AndGivesWhatGedgeRunGives() =>
        ClusterScenarios.SubmitGivesWhatRunGivesAsync(cluster, _scratch);

    [Fact]
    public async Task AnUploadPutIntoTheBucketWithTheMinioClient_AndItsNotification_StartAJobThatReadsItFromS3()
    {
        var undisturbed = await cluster.UndisturbedResultsAsync(TestClips.Road);
        using var client = new MinioClient()
            .WithEndpoint(cluster.S3.Endpoint)
            .WithCredentials(S3rverServer.AccessKey, S3rverServer.AccessKey)
            .WithRegion("us-east-1")
            .Build();
        var bucket = cluster.Buckets.Uploads;
        const string key = "local/from-minio.mp4";
        await using (var video = File.OpenRead(TestClips.Road))
        {
            await client.PutObjectAsync(new PutObjectArgs().WithBucket(bucket).WithObject(key).WithStreamData(video).WithObjectSize(video.Length).WithContentType("video/mp4"));
        }

        var stored = await client.StatObjectAsync(new StatObjectArgs().WithBucket(bucket).WithObject(key));

        // What MinIO's webhook target sends for the new object: its key URL-encoded, its real size and ETag, the token.
        using var notified = await cluster.Http.SendAsync(MinioNotificationBody.Request(
            MinioNotificationBody.Json(Uri.EscapeDataString(key), bucket, size: stored.Size, eTag: stored.ETag.Trim('"')),
            gateway: cluster.Gateway));

        Assert.Equal(HttpStatusCode.NoContent, notified.StatusCode);
        var created = Assert.Single((await cluster.Jobs.ListByUserAsync("local", 0, 100)).Jobs, job => job.Path == $"{bucket}/{key}");
        var job = await cluster.WaitForJobExitAsync(created.Id, TimeSpan.FromMinutes(2));
        Assert.True(job.Error is null && job.Iteration == 0, $"job {job.Id}: {job.Error} (iteration {job.Iteration})");
        Assert.Equal(undisturbed, await JobResultsFacts.ReadAsync(cluster.ResultsFolder(job)));
        Assert.True(await cluster.WorkFolderRemovedAsync(job.Id), $"the job's intermediates were left behind: {string.Join(", ", cluster.IntermediatesLeft(job.Id))}");
    }

    [Fact]
    public async Task Cancel_WhileASegmentIsPreprocessed_LeavesNothing_WhatThePreprocessWroteAfterTheRemovalIncluded()
    {
        var id = await cluster.SubmitAsync(await TestClips.LongAsync());
        // Cancelled once Preprocess has taken the first segment: it is still encoding the segment's frames, so the job's
        // removal runs before they are written; the attempt names what it wrote itself when it finds its job gone.
        await cluster.WaitForSegmentAsync(id, 0, JobStatus.Preprocessing, TimeSpan.FromMinutes(2));

        using var cancelled = await cluster.Api.DeleteAsync($"api/jobs/{id}");

        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        await cluster.AssertSegmentDroppedAsync("preprocess", id, JobStatus.Preprocessing);
        Assert.True(await cluster.WorkFolderRemovedAsync(id), $"the cancelled job's intermediates were left behind: {string.Join(", ", cluster.IntermediatesLeft(id))}");
    }

    [Theory]
    [InlineData("preprocess", JobStatus.Preprocessing)]
    public Task AStageProcessKilledMidJob_IsStartedAgain_AndTheJobCompletesOnItsSecondAttempt_WithTheSameResults(string stage, JobStatus working) =>
        ClusterScenarios.StageKilledMidJobAsync(cluster, stage, working);

    [Fact]
    public Task SixVideosSubmittedAtOnce_AllReachExitWithTheirResults_AndLeaveNoIntermediates() =>
        ClusterScenarios.ManyAtOnceAsync(cluster, videos: 6, _scratch, output);

    [Fact]
    public async Task DeletingAnEndedJob_RemovesItsUploadAndResultsFromTheServer_ByTheirKeys()
    {
        var id = await cluster.SubmitAsync(TestClips.Road);
        var job = await cluster.WaitForJobExitAsync(id, TimeSpan.FromMinutes(2));
        var artifacts = new JobArtifacts(cluster.Buckets, job.User, job.Id);
        var (uploadBucket, uploadKey) = JobArtifacts.UploadOf(job);
        Assert.Equal(JobArtifacts.ResultFiles.Select(artifacts.ResultKey), cluster.S3.KeysOnDisk(cluster.Buckets.Results, artifacts.ResultPrefix));
        Assert.Equal([uploadKey], cluster.S3.KeysOnDisk(uploadBucket, uploadKey));

        using var deleted = await cluster.Api.DeleteAsync($"api/jobs/{id}");

        // A 500 here was seen once in CI and never again (s3rver's delete race, most likely): the gateway's log says why.
        Assert.True(
            deleted.StatusCode == HttpStatusCode.NoContent,
            $"DELETE answered {(int)deleted.StatusCode}: {await deleted.Content.ReadAsStringAsync()}{Environment.NewLine}the gateway's log:{Environment.NewLine}{cluster.LogTail("gateway")}");
        Assert.Empty(cluster.S3.KeysOnDisk(cluster.Buckets.Results, artifacts.ResultPrefix));
        Assert.Empty(cluster.S3.KeysOnDisk(uploadBucket, uploadKey));
        Assert.Null(await cluster.Jobs.GetAsync(id));
    }
}
