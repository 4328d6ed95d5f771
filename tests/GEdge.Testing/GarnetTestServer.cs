using GEdge.JobTable.Embedded;

namespace GEdge.Testing;

/// <summary>
/// The embedded Garnet server, started exactly as a host starts it, on a free loopback port and a temp data folder of its
/// own; disposing it stops the server and deletes the folder. The real job-table server of the tests that need one.
/// </summary>
public sealed class GarnetTestServer : IAsyncDisposable
{
    private readonly TempFolder _data;
    private readonly EmbeddedGarnetServer _server;

    private GarnetTestServer(TempFolder data, EmbeddedGarnetServer server)
    {
        _data = data;
        _server = server;
    }

    /// <summary>The StackExchange.Redis connection string of the server.</summary>
    public string ConnectionString => _server.ConnectionString;

    /// <summary>Where the server keeps its data (its checkpoints and append-only log).</summary>
    public string DataPath => _data.Path;

    /// <summary>Starts a server on a new temp folder.</summary>
    public static GarnetTestServer Start()
    {
        var data = new TempFolder("gedge-garnet-");
        try
        {
            return new GarnetTestServer(data, EmbeddedGarnetServer.Start(new EmbeddedGarnetOptions { DataPath = data.Path }));
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    /// <summary>Stops the server and deletes its data.</summary>
    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync().ConfigureAwait(false);
        _data.Dispose();
    }
}
