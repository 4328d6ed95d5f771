using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using GEdge.Storage.S3;
using Minio;

namespace GEdge.Storage.Tests;

/// <summary>
/// Starts a real S3 server, s3rver (npm), on a port of its own choosing on the loopback interface, with its data in a
/// temp folder; stops it and deletes the folder afterwards. A machine without s3rver fails the tests that use it: the
/// S3 store is never silently skipped. Install it with <c>npm install -g s3rver@3.7.1</c>.
/// </summary>
public sealed partial class S3rverFixture : IAsyncLifetime, IDisposable
{
    /// <summary>s3rver's built-in credentials.</summary>
    public const string AccessKey = "S3RVER";

    private const string PathVariable = "GEDGE_S3RVER";
    private readonly string _folder = Directory.CreateTempSubdirectory("gedge-s3rver-").FullName;
    private readonly StringBuilder _output = new();
    private Process? _process;

    /// <summary>The server's <c>host:port</c>.</summary>
    public string Endpoint { get; private set; } = "";

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

    public async Task InitializeAsync()
    {
        var configured = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrEmpty(configured) && !File.Exists(configured))
        {
            throw new InvalidOperationException($"{PathVariable} is set to {configured}, which does not exist.");
        }

        var executable = (string.IsNullOrEmpty(configured) ? FindOnPath("s3rver") : configured) ?? throw new InvalidOperationException(
            "s3rver was not found on PATH. The S3 store's tests must run against a real S3 server: install it with " +
            $"'npm install -g s3rver@3.7.1' (it runs on Node.js), or set {PathVariable} to the s3rver executable.");

        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _folder,
        };
        // s3rver signs its ListObjectsV2 continuation tokens with DES, which the OpenSSL 3 of Node 17 and later
        // disables: without the legacy provider every listing longer than one page (1000 keys) fails with a 500.
        start.Environment["NODE_OPTIONS"] = "--openssl-legacy-provider";
        // Port 0: s3rver binds a free port itself and prints it, so no other process can take it in between.
        foreach (var argument in new[] { "--directory", _folder, "--address", "127.0.0.1", "--port", "0", "--silent" })
        {
            start.ArgumentList.Add(argument);
        }

        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnOutput(e.Data, listening);
        _process.ErrorDataReceived += (_, e) => OnOutput(e.Data, listening);
        _process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException($"s3rver ({executable}) exited before it listened:{Environment.NewLine}{Output()}"));
        if (!_process.Start())
        {
            throw new InvalidOperationException($"Could not start {executable}.");
        }

        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        try
        {
            Endpoint = await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            throw new InvalidOperationException($"s3rver ({executable}) did not say it was listening within 30 s:{Environment.NewLine}{Output()}");
        }
    }

    public async Task DisposeAsync()
    {
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }

    public void Dispose() => _process?.Dispose();

    private void OnOutput(string? line, TaskCompletionSource<string> listening)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (ListeningLine().Match(line) is { Success: true } match)
        {
            listening.TrySetResult(match.Groups["endpoint"].Value);
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);

    [GeneratedRegex(@"S3rver listening on (?<endpoint>127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningLine();
}
