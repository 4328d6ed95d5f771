namespace GEdge.Functions.Tests;

/// <summary>
/// One real job-table server (the embedded Garnet server, on a free loopback port) for the tests that need one; each test
/// keeps to its own key prefix.
/// </summary>
public sealed class GarnetFixture : IAsyncLifetime
{
    private GarnetTestServer? _server;

    public string ConnectionString => _server?.ConnectionString ?? throw new InvalidOperationException("The Garnet server has not started.");

    public Task InitializeAsync()
    {
        _server = GarnetTestServer.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }
}

/// <summary>The test classes that share the one Garnet server.</summary>
[CollectionDefinition(Name)]
public sealed class OneGarnetServer : ICollectionFixture<GarnetFixture>
{
    public const string Name = "One Garnet server";
}
