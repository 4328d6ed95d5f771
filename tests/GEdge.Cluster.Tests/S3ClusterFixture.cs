using System.Globalization;
using GEdge.JobTable;
using GEdge.Jobs;

namespace GEdge.Cluster.Tests;

/// <summary>
/// The local cluster on object storage, as a Knative deployment runs it: a real S3 server (<see cref="S3rverServer"/>)
/// started before serve, and serve's processes pointed at it (<c>Storage__S3__*</c>); set for failures as
/// <see cref="ReliabilityClusterFixture"/> is, with the MinIO webhook's token configured. What the storage holds is read
/// from the server's own folder, never through its listing.
/// </summary>
public sealed class S3ClusterFixture : ClusterFixture
{
    private S3rverServer? _s3;

    /// <summary>The S3 server the cluster stores on.</summary>
    public S3rverServer S3 => _s3 ?? throw new InvalidOperationException("The S3 server has not started.");

    /// <summary>The bucket names (the defaults, which serve does not change).</summary>
    public BucketOptions Buckets { get; } = new();

    protected override IReadOnlyDictionary<string, string> ServeEnvironment =>
        new Dictionary<string, string>(ReliabilityClusterFixture.Settings.Concat(S3.Environment))
        {
            ["Gateway__MinioWebhook__AuthToken"] = MinioNotificationBody.Token,
        };

    public override async Task InitializeAsync()
    {
        _s3 = await S3rverServer.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_s3 is not null)
        {
            await _s3.DisposeAsync();
        }
    }

    /// <inheritdoc />
    public override IReadOnlyList<string> IntermediatesLeft(long id) => S3.KeysOnDisk(Buckets.Work, JobArtifacts.WorkPrefixOf(id));

    /// <summary>A copy of the job's results as the server holds them, in a folder of this cluster's.</summary>
    public override string ResultsFolder(Job job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var artifacts = new JobArtifacts(Buckets, job.User, job.Id);
        var folder = Path.Combine(Root, "s3-results", job.User, job.Id.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(folder);
        foreach (var name in JobArtifacts.ResultFiles)
        {
            File.Copy(S3.FileOf(Buckets.Results, artifacts.ResultKey(name)), Path.Combine(folder, name), overwrite: true);
        }

        return folder;
    }
}
