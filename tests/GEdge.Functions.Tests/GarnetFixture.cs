using GEdge.JobTable.Embedded;

namespace GEdge.Functions.Tests;

/// <summary>
/// One real job-table server (the embedded Garnet server, on a free loopback port) for the tests that need one; each test
/// keeps to its own key prefix.
/// </summary>
public sealed class GarnetFixture : IAsyncLifetime
{
    private readonly string _dataPath = Path.Combine(Path.GetTempPath(), "gedge-functions-tests", Guid.NewGuid().ToString("N"));
    private EmbeddedGarnetServer? _server;

    public string ConnectionString => _server?.ConnectionString ?? throw new InvalidOperationException("The Garnet server has not started.");

    public Task InitializeAsync()
    {
        _server = EmbeddedGarnetServer.Start(new EmbeddedGarnetOptions { DataPath = _dataPath });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
        if (Directory.Exists(_dataPath))
            Directory.Delete(_dataPath, recursive: true);
    }
}

/// <summary>The test classes that share the one Garnet server.</summary>
[CollectionDefinition(Name)]
public sealed class OneGarnetServer : ICollectionFixture<GarnetFixture>
{
    public const string Name = "One Garnet server";
}

/// <summary>A clock the test moves, shared by the job table (lease deadlines) and the dead-letter recorder.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
