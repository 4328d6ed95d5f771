using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using GEdge.Functions.Hosting;
using GEdge.Hosting;
using GEdge.Infer;
using GEdge.JobTable.Embedded;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace GEdge.Functions.Tests;

/// <summary>
/// Readiness means the same in both hosts of a function: the Infer app's composition (what its container runs, as its
/// Program.cs composes it, answered by <see cref="ProbeFunctions"/>) and <c>gedge function infer</c> (what the local
/// cluster runs, a process answering <c>GET /readyz</c>). The same test runs against each: ready while its job table
/// answers, with the same checks in the same words, and unready, naming the job table, once it stops answering.
/// </summary>
public sealed partial class ReadinessTests : IDisposable
{
    private readonly string _storage = Directory.CreateTempSubdirectory("gedge-readiness-").FullName;

    public static TheoryData<string> Hosts => ["Azure Functions app", "gedge function"];

    public void Dispose() => Directory.Delete(_storage, recursive: true);

    [Theory]
    [MemberData(nameof(Hosts))]
    public async Task Infer_IsReadyWhileItsJobTableAnswers_AndUnreadyNamingItWhenItStops(string host)
    {
        // A server of its own: the test stops it.
        await using var garnet = EmbeddedGarnetServer.Start(new EmbeddedGarnetOptions { DataPath = Path.Combine(_storage, "garnet") });
        await using var readiness = host == "gedge function"
            ? await GedgeFunction.StartAsync(garnet.ConnectionString, _storage)
            : (IReadiness)new FunctionsApp(garnet.ConnectionString, _storage);

        var ready = await readiness.WaitForAsync(HttpStatusCode.OK);

        Assert.Equal(
            "Healthy\n" +
            "job-table: Healthy: answers in N ms\n" +
            "subscribers: Healthy: built for 'gedge-infer', 'gedge-infer-warmup'\n" +
            "model: Healthy: yolox_nano loaded on the Cpu provider\n",
            Milliseconds().Replace(ready, "N ms"));

        await garnet.DisposeAsync();
        var unready = await readiness.WaitForAsync(HttpStatusCode.ServiceUnavailable);

        // The reason is the Redis client's own words, which vary with the moment the connection was found gone.
        Assert.Equal(
            ["Unhealthy", "job-table: Unhealthy", "subscribers: Healthy", "model: Healthy"],
            unready.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => string.Join(':', line.Split(':').Take(2))));
    }

    [Fact]
    public async Task Infer_AskedForCuda_OnAMachineWithoutIt_IsNotReady_AndSaysWhy()
    {
        // This machine has no GPU: ONNX Runtime's CUDA provider cannot load, and the session falls back to the CPU.
        await using var garnet = EmbeddedGarnetServer.Start(new EmbeddedGarnetOptions { DataPath = Path.Combine(_storage, "garnet") });
        await using var readiness = new FunctionsApp(garnet.ConnectionString, _storage, new Dictionary<string, string?> { ["Detector:ExecutionProvider"] = "Cuda" });

        var unready = await readiness.WaitForAsync(HttpStatusCode.ServiceUnavailable);

        Assert.Contains(
            "model: Unhealthy: yolox_nano runs on the Cpu provider, but Detector:ExecutionProvider asks for Cuda: the provider could not be loaded",
            unready,
            StringComparison.Ordinal);
        Assert.Contains("job-table: Healthy", unready, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\d+(\.\d+)? ms")]
    private static partial Regex Milliseconds();

    private interface IReadiness : IAsyncDisposable
    {
        // Asks until the answer has this status (a host may still be starting, a lost connection take a moment to show).
        Task<string> WaitForAsync(HttpStatusCode status);
    }

    private abstract class Polling : IReadiness
    {
        public async Task<string> WaitForAsync(HttpStatusCode status)
        {
            var deadline = DateTime.UtcNow.AddMinutes(1);
            var last = "no answer";
            while (DateTime.UtcNow < deadline)
            {
                if (await AskAsync() is { } answer)
                {
                    if (answer.Status == status)
                    {
                        return answer.Text;
                    }

                    last = $"{(int)answer.Status}: {answer.Text}";
                }

                await Task.Delay(100);
            }

            throw new TimeoutException($"/readyz did not answer {(int)status} within a minute; last: {last}");
        }

        public abstract ValueTask DisposeAsync();

        protected abstract Task<(HttpStatusCode Status, string Text)?> AskAsync();
    }

    /// <summary>The Infer app's services, composed as its Program.cs composes them (<see cref="GEdgeFunctionApp"/>), asked through its probe function.</summary>
    private sealed class FunctionsApp : Polling
    {
        private readonly ServiceProvider _services;

        public FunctionsApp(string jobTable, string storage, IReadOnlyDictionary<string, string?>? settings = null)
        {
            var configuration = Configuration(jobTable, storage, settings);
            var services = new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(configuration);
            GEdgeFunctionApp.Compose(services, configuration, app => app.AddInferStage());
            _services = services.BuildServiceProvider();
        }

        public override ValueTask DisposeAsync() => _services.DisposeAsync();

        protected override async Task<(HttpStatusCode Status, string Text)?> AskAsync()
        {
            var answer = Assert.IsType<ContentResult>(await new ProbeFunctions(_services).ReadinessAsync(new DefaultHttpContext().Request, CancellationToken.None));
            return ((HttpStatusCode)answer.StatusCode!.Value, answer.Content!);
        }

        private static IConfiguration Configuration(string jobTable, string storage, IReadOnlyDictionary<string, string?>? settings) =>
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["JobTable:ConnectionString"] = jobTable,
                ["Storage:Local:Root"] = storage,
            }).AddInMemoryCollection(settings ?? new Dictionary<string, string?>()).Build();
    }

    /// <summary><c>dotnet gedge.dll function infer</c>, configured by environment as <c>gedge serve</c> configures it.</summary>
    private sealed class GedgeFunction(Process process, Uri readyz) : Polling
    {
        private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };

        public static Task<GedgeFunction> StartAsync(string jobTable, string storage)
        {
            var url = new Uri($"http://127.0.0.1:{FreePort()}");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = storage };
            foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "gedge.dll"), "function", "infer", "--urls", url.ToString() })
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment.Remove("Storage__S3__Endpoint");
            start.Environment["JobTable__ConnectionString"] = jobTable;
            start.Environment["Storage__Local__Root"] = storage;
            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return Task.FromResult(new GedgeFunction(process, new Uri(url, FunctionRoutes.Readiness)));
        }

        public override async ValueTask DisposeAsync()
        {
            _http.Dispose();
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        protected override async Task<(HttpStatusCode Status, string Text)?> AskAsync()
        {
            Assert.False(process.HasExited, $"gedge function infer exited with {(process.HasExited ? process.ExitCode : 0)}");
            try
            {
                using var response = await _http.GetAsync(readyz);
                return (response.StatusCode, await response.Content.ReadAsStringAsync());
            }
            catch (HttpRequestException)
            {
                return null; // Not listening yet.
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
