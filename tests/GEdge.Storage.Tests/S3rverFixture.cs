using GEdge.Storage.S3;
using GEdge.Testing;
using Minio;

namespace GEdge.Storage.Tests;

/// <summary>A real S3 server (<see cref="S3rverServer"/>) for a test class, and the store and clients that reach it.</summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    /// <summary>s3rver's built-in credentials.</summary>
    public const string AccessKey = S3rverServer.AccessKey;

    private S3rverServer? _server;

    /// <summary>The server's <c>host:port</c>.</summary>
    public string Endpoint => Server.Endpoint;

    /// <summary>The running server.</summary>
    public S3rverServer Server => _server ?? throw new InvalidOperationException("The server has not started.");

    /// <summary>Options that reach the server; tests shorten the retry delays so failures show quickly.</summary>
    public S3StorageOptions Options => new()
    {
        Endpoint = Endpoint,
        AccessKey = AccessKey,
        SecretKey = AccessKey,
        RetryDelay = TimeSpan.FromMilliseconds(20),
    };

    /// <summary>A store on the server, through the handler that corrects s3rver's listing answers.</summary>
    public S3ObjectStore CreateStore(HttpMessageHandler? primaryHandler = null, S3StorageOptions? options = null) =>
        new(options ?? Options, logger: null, new S3rverCompatibilityHandler(primaryHandler ?? new SocketsHttpHandler()));

    /// <summary>A bare Minio client on the server, to look at it without going through the store.</summary>
    public IMinioClient CreateClient() =>
        new MinioClient().WithEndpoint(Endpoint).WithCredentials(AccessKey, AccessKey).WithRegion("us-east-1").Build();

    public async Task InitializeAsync() => _server = await S3rverServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
