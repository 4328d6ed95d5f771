using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace GEdge.Testing;

/// <summary>
/// A real S3 server, s3rver (npm), on a port of its own choosing on the loopback interface, with its data in a temp
/// folder; stopped and the folder deleted afterwards. A machine without s3rver fails the tests that use it: the S3 store
/// is never silently skipped. Install it with <c>npm install -g s3rver@3.7.1</c>.
/// </summary>
/// <remarks>
/// Why s3rver 3.7.1: of the S3 servers the registries here serve (npm, Debian; MinIO itself is not packaged), it is the
/// one that runs alone, in a second, with nothing but Node. Its maintained fork <c>@20minutes/s3rver</c> was compared:
/// 4.0.4 keeps both ListObjectsV2 faults below, and 5.0.0 needs Node 24 (Debian 12 has 18, this machine 20). Known
/// faults, each the server's: ListObjectsV2 answers in another XML namespace than S3's and ignores
/// <c>encoding-type=url</c> (the Minio client sees an empty listing; <c>S3rverCompatibilityHandler</c> in the storage
/// tests corrects it there, and nowhere in the product, whose removals go by key); deletes in one folder at the same
/// moment can race in its empty-folder clean-up and answer 500 (the store's retry takes it: the object is gone by then).
/// </remarks>
public sealed partial class S3rverServer : IAsyncDisposable
{
    /// <summary>s3rver's built-in credentials: the access key and the secret key are both this.</summary>
    public const string AccessKey = "S3RVER";

    private const string PathVariable = "GEDGE_S3RVER";
    private const string ObjectSuffix = "._S3rver_object";
    private readonly StringBuilder _output = new();
    private readonly Process _process;

    private S3rverServer(Process process, string folder, string endpoint)
    {
        _process = process;
        Folder = folder;
        Endpoint = endpoint;
    }

    /// <summary>The server's <c>host:port</c>.</summary>
    public string Endpoint { get; }

    /// <summary>The folder the server keeps its buckets in: its own record of what it holds, read without asking it.</summary>
    public string Folder { get; }

    /// <summary>The settings that point a G-Edge process (<c>Storage:S3</c>, as environment variables) at this server.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Storage__S3__Endpoint"] = Endpoint,
        ["Storage__S3__AccessKey"] = AccessKey,
        ["Storage__S3__SecretKey"] = AccessKey,
    };

    /// <summary>Starts s3rver and waits (30 s at most) until it listens.</summary>
    public static async Task<S3rverServer> StartAsync()
    {
        var configured = System.Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrEmpty(configured) && !File.Exists(configured))
        {
            throw new InvalidOperationException($"{PathVariable} is set to {configured}, which does not exist.");
        }

        var executable = (string.IsNullOrEmpty(configured) ? FindOnPath("s3rver") : configured) ?? throw new InvalidOperationException(
            "s3rver was not found on PATH. The S3 store's tests must run against a real S3 server: install it with " +
            $"'npm install -g s3rver@3.7.1' (it runs on Node.js), or set {PathVariable} to the s3rver executable.");

        var folder = Directory.CreateTempSubdirectory("gedge-s3rver-").FullName;
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = folder,
        };
        // s3rver signs its ListObjectsV2 continuation tokens with DES, which the OpenSSL 3 of Node 17 and later
        // disables: without the legacy provider every listing longer than one page (1000 keys) fails with a 500.
        start.Environment["NODE_OPTIONS"] = "--openssl-legacy-provider";
        // Port 0: s3rver binds a free port itself and prints it, so no other process can take it in between.
        foreach (var argument in new[] { "--directory", folder, "--address", "127.0.0.1", "--port", "0", "--silent" })
        {
            start.ArgumentList.Add(argument);
        }

        var output = new StringBuilder();
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnOutput(output, e.Data, listening);
        process.ErrorDataReceived += (_, e) => OnOutput(output, e.Data, listening);
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException($"s3rver ({executable}) exited before it listened:{System.Environment.NewLine}{Text(output)}"));
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {executable}.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            return new S3rverServer(process, folder, await listening.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"s3rver ({executable}) did not say it was listening within 30 s:{System.Environment.NewLine}{Text(output)}");
        }
    }

    /// <summary>
    /// The keys of the objects the server holds in <paramref name="bucket"/> under <paramref name="prefix"/>, read from
    /// its folder (its own record, whatever its listing answers), in key order. Keys of plain letters, digits, '/', '.',
    /// '-' and '_', as G-Edge's are: s3rver writes those to its folder as they are.
    /// </summary>
    public IReadOnlyList<string> KeysOnDisk(string bucket, string prefix)
    {
        var bucketFolder = Path.Combine(Folder, bucket);
        if (!Directory.Exists(bucketFolder))
        {
            return [];
        }

        return [.. Directory.EnumerateFiles(bucketFolder, "*" + ObjectSuffix, SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(bucketFolder, file)[..^ObjectSuffix.Length].Replace(Path.DirectorySeparatorChar, '/'))
            .Where(key => key.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>The file that holds the bytes of object <paramref name="key"/> (see <see cref="KeysOnDisk"/> for which keys).</summary>
    public string FileOf(string bucket, string key) =>
        Path.Combine(Folder, bucket, key.Replace('/', Path.DirectorySeparatorChar) + ObjectSuffix);

    /// <summary>Stops the server and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
        Directory.Delete(Folder, recursive: true);
    }

    private static void OnOutput(StringBuilder output, string? line, TaskCompletionSource<string> listening)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }

        if (ListeningLine().Match(line) is { Success: true } match)
        {
            listening.TrySetResult(match.Groups["endpoint"].Value);
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    private static string? FindOnPath(string name) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);

    [GeneratedRegex(@"S3rver listening on (?<endpoint>127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningLine();
}
