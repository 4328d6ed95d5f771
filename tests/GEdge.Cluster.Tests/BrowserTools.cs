using System.Diagnostics;
using System.Reflection;

namespace GEdge.Cluster.Tests;

/// <summary>
/// What the dashboard's tests run outside .NET: Node (the scripts in tests/browser), playwright-core from
/// tests/browser/node_modules, and Debian's chromium. A missing one fails the test with the command that installs it.
/// </summary>
internal static class BrowserTools
{
    /// <summary>The checkout the tests were built from (the build writes it into the assembly), where tests/browser is.</summary>
    public static string RepositoryRoot { get; } =
        typeof(BrowserTools).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(attribute => attribute.Key == "RepositoryRoot").Value!;

    /// <summary>tests/browser: the scripts, package.json and node_modules.</summary>
    public static string BrowserTestsFolder => Path.Combine(RepositoryRoot, "tests", "browser");

    /// <summary>Where the test run keeps what it made for people to look at: TestResults/artifacts, or GEDGE_TEST_ARTIFACTS.</summary>
    public static string ArtifactsFolder =>
        Environment.GetEnvironmentVariable("GEDGE_TEST_ARTIFACTS") is { Length: > 0 } folder
            ? folder
            : Path.Combine(RepositoryRoot, "TestResults", "artifacts");

    /// <summary>The chromium to drive: CHROMIUM_PATH, or Debian's /usr/bin/chromium.</summary>
    public static string Chromium =>
        Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    /// <summary>Fails, saying how to install it, unless Node is on the PATH.</summary>
    public static void RequireNode()
    {
        if (FindOnPath("node") is null)
        {
            throw new InvalidOperationException(
                "node is not on the PATH. The dashboard's tests run Node scripts: install Node.js 20 or later (Debian: apt-get install nodejs npm). " +
                "A missing tool fails these tests, it never skips them.");
        }
    }

    /// <summary>Fails, saying how to install them, unless chromium and tests/browser's node_modules are there.</summary>
    public static void RequireBrowser()
    {
        RequireNode();
        if (!File.Exists(Chromium))
        {
            throw new InvalidOperationException(
                $"{Chromium} does not exist. The dashboard's browser test drives Debian's chromium: install it with 'apt-get install chromium' " +
                "(or set CHROMIUM_PATH to a Chromium or Chrome binary). A missing browser fails this test, it never skips it.");
        }

        if (!File.Exists(Path.Combine(BrowserTestsFolder, "node_modules", "playwright-core", "package.json")))
        {
            throw new InvalidOperationException(
                $"{BrowserTestsFolder}/node_modules has no playwright-core. Install the browser test's packages with 'npm ci --prefix tests/browser' " +
                "(./gedge test and .ci/run do it). A missing package fails this test, it never skips it.");
        }
    }

    /// <summary>Runs <c>node ARGS</c> in tests/browser to its end, at most <paramref name="timeout"/>, and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunNodeAsync(
        IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = BrowserTestsFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (variable, value) in environment)
        {
            start.Environment[variable] = value;
        }

        using var process = new Process { StartInfo = start };
        var output = new List<string>();
        void Collect(object sender, DataReceivedEventArgs line)
        {
            if (line.Data is not null)
            {
                lock (output)
                {
                    output.Add(line.Data);
                }
            }
        }

        process.OutputDataReceived += Collect;
        process.ErrorDataReceived += Collect;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            lock (output)
            {
                output.Add($"(killed: node ran past {timeout})");
            }
        }

        // WaitForExitAsync returns once the output streams are drained as well.
        lock (output)
        {
            return (process.ExitCode, string.Join(Environment.NewLine, output));
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);
}
