using System.Security.Cryptography;
using System.Text;

namespace GEdge.Cluster.Tests;

/// <summary><c>gedge api-key new</c> and how <c>gedge submit</c> finds its key, run as a user runs them.</summary>
public sealed class ApiKeyCommandTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("gedge-api-key-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task New_PrintsAKey_AndTheTwoGatewaySettingsWithItsHash()
    {
        var (exitCode, output, error) = await ClusterFixture.RunGedgeAsync(["api-key", "new", "alice", "--index", "3"], _folder);

        Assert.True(exitCode == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(3, lines.Length);
        var key = lines[0];
        Assert.Matches("^gedge_[A-Za-z0-9_-]{43}$", key);
        Assert.Equal("Gateway__ApiKeys__3__User=alice", lines[1]);
        Assert.Equal($"Gateway__ApiKeys__3__Sha256={Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))}", lines[2]);
        Assert.Contains("shown only now", error, StringComparison.Ordinal);

        var (_, again, _) = await ClusterFixture.RunGedgeAsync(["api-key", "new", "alice"], _folder);
        Assert.NotEqual(key, again.Split('\n')[0].Trim());
    }

    [Fact]
    public async Task New_ForANameThatCannotBeAUser_Fails()
    {
        var (exitCode, output, error) = await ClusterFixture.RunGedgeAsync(["api-key", "new", "../bob"], _folder);

        Assert.Equal(1, exitCode);
        Assert.Empty(output);
        Assert.Contains("a user name is 1-64 characters", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_WithNoKeyAnywhere_FailsSayingWhereAKeyComesFrom()
    {
        var video = Path.Combine(AppContext.BaseDirectory, "assets", "road.mp4");

        var (exitCode, _, error) = await ClusterFixture.RunGedgeAsync(["submit", video, "--server", "http://127.0.0.1:9"], _folder);

        Assert.Equal(1, exitCode);
        Assert.Contains("no API key: give --api-key KEY, set GEDGE_API_KEY, or run `gedge serve` here", error, StringComparison.Ordinal);
    }
}
