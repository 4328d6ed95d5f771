using GEdge.JobTable.Embedded;

namespace GEdge.JobTable.Tests;

/// <summary>
/// Entry point of the child process that <see cref="GarnetPersistenceTests"/> kills: it hosts the embedded Garnet server
/// on a data folder, says which port it listens on, then waits to be killed.
/// </summary>
public static class Program
{
    public const string HostCommand = "garnet-host";

    public static async Task<int> Main(string[] args)
    {
        if (args is not [HostCommand, var dataPath])
        {
            await Console.Error.WriteLineAsync($"usage: {HostCommand} <data-folder>");
            return 2;
        }

        await using var server = EmbeddedGarnetServer.Start(new EmbeddedGarnetOptions { DataPath = dataPath });
        Console.WriteLine($"ready {server.EndPoint.Port}");
        // Runs until killed, which is the point; a closed stdin ends it gracefully.
        await Console.In.ReadToEndAsync();
        return 0;
    }
}
