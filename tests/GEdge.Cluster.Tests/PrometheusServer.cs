using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace GEdge.Cluster.Tests;

/// <summary>
/// A real Prometheus server (Debian's <c>prometheus</c> package) on a free loopback port, with its data in a temp folder,
/// scraping what a configuration file names; stopped and the folder deleted afterwards. Read through its own HTTP query
/// API (<c>/api/v1/query</c>). A machine without it fails the tests that use it, never skips them.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output;
    private readonly HttpClient _http;

    private PrometheusServer(Process process, StringBuilder output, string folder, Uri address)
    {
        _process = process;
        _output = output;
        Folder = folder;
        Address = address;
        _http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>The server's address.</summary>
    public Uri Address { get; }

    /// <summary>Its data folder.</summary>
    public string Folder { get; }

    /// <summary>Starts Prometheus on <paramref name="configFile"/> and waits (30 s at most) until it is ready.</summary>
    public static async Task<PrometheusServer> StartAsync(string configFile)
    {
        var executable = FindOnPath("prometheus") ?? throw new InvalidOperationException(
            "prometheus is not on the PATH. The metrics test scrapes the cluster with a real Prometheus server: install it " +
            "(Debian: apt-get install --no-install-recommends prometheus); a missing server fails the test, it never skips it.");
        var folder = Directory.CreateTempSubdirectory("gedge-prometheus-").FullName;
        var address = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{FreeLoopbackPort()}/"));
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder };
        foreach (var argument in new[]
        {
            "--config.file=" + configFile, "--storage.tsdb.path=" + Path.Combine(folder, "data"),
            $"--web.listen-address={address.Host}:{address.Port}", "--log.level=warn",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var output = new StringBuilder();
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new PrometheusServer(process, output, folder, address);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                await server.DisposeAsync();
                throw new InvalidOperationException($"prometheus exited with code {process.ExitCode} before it was ready:{Environment.NewLine}{Text(output)}");
            }

            try
            {
                using var ready = await server._http.GetAsync("-/ready");
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                await server.DisposeAsync();
                throw new InvalidOperationException($"prometheus was not ready within 30 s:{Environment.NewLine}{Text(output)}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>What Prometheus logged, for a failing test's message.</summary>
    public string Output => Text(_output);

    /// <summary>An instant query (<c>/api/v1/query</c>): each series of the resulting vector, with its labels and value.</summary>
    public async Task<IReadOnlyList<PrometheusSample>> QueryAsync(string query)
    {
        using var response = await _http.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(query));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"Prometheus refused '{query}' with {(int)response.StatusCode}: {body}");
        using var document = JsonDocument.Parse(body);
        var data = document.RootElement.GetProperty("data");
        Assert.Equal("vector", data.GetProperty("resultType").GetString());
        return [.. data.GetProperty("result").EnumerateArray().Select(series => new PrometheusSample(
            series.GetProperty("metric").EnumerateObject().ToDictionary(label => label.Name, label => label.Value.GetString() ?? "", StringComparer.Ordinal),
            double.Parse(series.GetProperty("value")[1].GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture)))];
    }

    /// <summary>Stops Prometheus and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
        Directory.Delete(Folder, recursive: true);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
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
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);
}

/// <summary>One series of a query's result: its labels and its value.</summary>
public sealed record PrometheusSample(IReadOnlyDictionary<string, string> Labels, double Value);
