using GEdge.Contracts;
using GEdge.JobTable.Embedded;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace GEdge.JobTable.Tests;

/// <summary>How hosts get a job table: from configuration, with the embedded Garnet server as the default.</summary>
public sealed class RegistrationTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>, IDisposable
{
    private readonly TempFolder _folder = new("gedge-jobtable-tests-");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void AddJobTable_BindsTheJobTableSection()
    {
        using var services = Build(new()
        {
            ["JobTable:ConnectionString"] = "redis.example:6380",
            ["JobTable:KeyPrefix"] = "g1",
            ["JobTable:IterationLimit"] = "5",
            ["JobTable:LeaseDuration"] = "00:02:00",
        }, embedded: false);

        Assert.Equal(
            new JobTableOptions { ConnectionString = "redis.example:6380", KeyPrefix = "g1", IterationLimit = 5, LeaseDuration = TimeSpan.FromMinutes(2) },
            services.GetRequiredService<IOptions<JobTableOptions>>().Value);
    }

    [Fact]
    public void AddJobTable_WithAnIterationLimitOfZero_FailsNamingTheSetting()
    {
        using var services = Build(new() { ["JobTable:IterationLimit"] = "0" }, embedded: false);

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<JobTableOptions>>().Value);

        Assert.Equal("JobTable:IterationLimit must be at least 1, not 0.", error.Message);
    }

    [Fact]
    public void AddJobTable_WithoutAConnectionStringOrAnEmbeddedServer_FailsSayingWhatToConfigure()
    {
        using var services = Build([], embedded: false);

        var error = Assert.Throws<InvalidOperationException>(() => services.GetRequiredService<JobTable>());

        Assert.StartsWith("JobTable:ConnectionString is not set and this process hosts no job-table server.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddJobTableWithEmbeddedServer_WithoutAConnectionString_StartsGarnetOnTheDataFolder()
    {
        var dataPath = Path.Combine(_folder.Path, "garnet");
        await using var services = Build(new() { ["JobTable:Embedded:DataPath"] = dataPath }, embedded: true);

        var created = await services.GetRequiredService<JobTable>().CreateAsync(new NewJob("alice", "uploads/a.mp4", "mp4", "etag"));

        var server = Assert.IsType<EmbeddedGarnetServer>(services.GetRequiredService<IJobTableServer>());
        Assert.Equal(dataPath, server.DataPath);
        Assert.Equal(server.ConnectionString, services.GetRequiredService<IConnectionMultiplexer>().Configuration.Split(',')[0]);
        Assert.Equal(JobStatus.Enqueue, (await services.GetRequiredService<JobTable>().GetAsync(created.Job.Id))!.Status);
    }

    [Fact]
    public async Task AddJobTableWithEmbeddedServer_WithAConnectionString_UsesThatServerAndStartsNoGarnet()
    {
        var dataPath = Path.Combine(_folder.Path, "garnet");
        var prefix = $"test:{Guid.NewGuid():N}";
        await using var services = Build(new()
        {
            ["JobTable:ConnectionString"] = redis.ConnectionString,
            ["JobTable:KeyPrefix"] = prefix,
            ["JobTable:Embedded:DataPath"] = dataPath,
        }, embedded: true);

        var created = await services.GetRequiredService<JobTable>().CreateAsync(new NewJob("alice", "uploads/a.mp4", "mp4", "etag"));

        Assert.Equal("Enqueue", (string?)await redis.Connections[0].GetDatabase().HashGetAsync($"{prefix}:job:{created.Job.Id}", "status"));
        Assert.False(Directory.Exists(dataPath));
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings, bool embedded)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging();
        if (embedded)
            services.AddJobTableWithEmbeddedServer(configuration);
        else
            services.AddJobTable(configuration);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }
}
