using StackExchange.Redis;

namespace GEdge.JobTable.Tests;

/// <summary>Starts the embedded Garnet server, exactly as a host would, on a temp data folder; stops it afterwards.</summary>
public sealed class GarnetServerFixture : ITestServer, IAsyncLifetime
{
    private GarnetTestServer? _server;
    private IConnectionMultiplexer[] _connections = [];

    public string ConnectionString => _server!.ConnectionString;

    public IReadOnlyList<IConnectionMultiplexer> Connections => _connections;

    public async Task InitializeAsync()
    {
        _server = GarnetTestServer.Start();
        _connections = await TestNetwork.ConnectAsync(ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await TestNetwork.DisposeAllAsync(_connections);
        if (_server is not null)
            await _server.DisposeAsync();
    }
}
