using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace GEdge.JobTable.Tests;

/// <summary>A Redis-protocol server a fixture started for the job-table contract.</summary>
public interface ITestServer
{
    string ConnectionString { get; }

    /// <summary>Several connections, so concurrency tests contend the way separate worker processes do (one connection
    /// is served in order, so it would never race with itself).</summary>
    IReadOnlyList<IConnectionMultiplexer> Connections { get; }

    IConnectionMultiplexer Connection => Connections[0];
}

internal static class TestNetwork
{
    public const int ConnectionCount = 8;

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<IConnectionMultiplexer[]> ConnectAsync(string connectionString, int count = ConnectionCount)
    {
        var connections = new IConnectionMultiplexer[count];
        for (var i = 0; i < count; i++)
            connections[i] = await ConnectionMultiplexer.ConnectAsync(connectionString);
        return connections;
    }

    public static async Task DisposeAllAsync(IEnumerable<IConnectionMultiplexer> connections)
    {
        foreach (var connection in connections)
            await connection.DisposeAsync();
    }
}
