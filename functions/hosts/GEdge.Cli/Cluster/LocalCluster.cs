using System.Globalization;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.Events.AspNetCore;
using GEdge.Events.Broker;
using GEdge.Hosting;
using GEdge.JobTable;
using GEdge.Jobs;

namespace GEdge.Cli.Cluster;

/// <summary>How to run the local cluster.</summary>
/// <param name="Port">The gateway's port; the broker and the stages take the next four. 0 picks free ports for all.</param>
/// <param name="DuplicateDeliveries">Whether the broker delivers every event twice.</param>
/// <param name="Root">The cluster's folder: logs, storage and the job table's data.</param>
internal sealed record LocalClusterOptions(int Port, bool DuplicateDeliveries, string Root)
{
    /// <summary>
    /// Processes per stage function beyond the first (<c>--scale postprocess=3</c>), as Knative runs several pods of a
    /// Service: the broker spreads the Service's deliveries over them. A function not named runs one.
    /// </summary>
    public IReadOnlyDictionary<string, int> Scale { get; init; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>How many processes <paramref name="function"/> runs (with <see cref="ScaleToZero"/>, at most).</summary>
    public int ProcessesOf(string function) => Scale.TryGetValue(function, out var count) ? count : 1;

    /// <summary>
    /// Scale the stages to zero (<c>--scale-to-zero</c>): no stage process runs until the broker holds a request for it;
    /// then <see cref="LocalAutoscaler"/> starts as many as the requests want, up to the function's <see cref="Scale"/>
    /// when given, else its Knative Service's max-scale within <see cref="Cores"/>, and stops them after
    /// <see cref="IdleWindow"/> without requests.
    /// </summary>
    public bool ScaleToZero { get; init; }

    /// <summary>How long a scaled stage goes without wanting a process before that process stops (<c>--idle-window</c>).</summary>
    public TimeSpan IdleWindow { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Settings for every process the cluster starts, beside those it inherits from serve's environment.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// The cores the cluster's one node offers its CPU-bound requests (<c>--cores</c>, <see cref="BrokerOptions.NodeCores"/>):
    /// at most this many run at once. This machine's by default; 0 is no limit.
    /// </summary>
    public int Cores { get; init; } = MachineCores;

    /// <summary>The cores of this machine (as .NET counts them, within the process's CPU limit): <see cref="Cores"/> by default.</summary>
    public static int MachineCores => System.Environment.ProcessorCount;

    /// <summary>How often serve asks the gateway to sweep stuck jobs, as the cluster's PingSource does (<c>Sweeper:Interval</c>).</summary>
    public TimeSpan SweepInterval { get; init; } = new SweeperOptions().Interval;

    /// <summary>The folder under the working directory the cluster uses by default.</summary>
    public static string DefaultRoot => Path.Combine(".gedge", "cluster");
}

/// <summary>
/// <c>gedge serve</c>: G-Edge as a cluster of separate processes on one machine. It starts the job table server, then
/// the broker and each function as its own <c>gedge</c> process on its own loopback port, all talking HTTP CloudEvents
/// as Knative Services would; waits until each is ready; then keeps them running as Kubernetes would, starting again
/// a process that exits (and redis-server, on its port and data), and posts to the gateway's sweep endpoint on an
/// interval as the PingSource does. It stops them all when told to.
/// </summary>
internal sealed class LocalCluster : IAsyncDisposable
{
    private const string BrokerName = "broker";
    private static readonly TimeSpan s_readyTimeout = TimeSpan.FromMinutes(2);
    // A stage's Stages:ShutdownGrace (15 s) with a margin; the gateway and the broker hold no stage of a job.
    private static readonly TimeSpan s_stageStopGrace = TimeSpan.FromSeconds(17);
    private static readonly TimeSpan s_serviceStopGrace = TimeSpan.FromSeconds(5);

    // As a kubelet's CrashLoopBackOff: a process that ran this long is started again at once; one that died sooner waits
    // a delay that doubles from the first up to the last, so a process that cannot run does not spin.
    private static readonly TimeSpan s_stableAfter = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_firstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(30);
    private static readonly JsonEventFormatter s_formatter = new();

    private readonly List<ClusterProcess> _processes = [];
    private readonly CancellationTokenSource _supervision = new();
    private readonly List<Task> _supervisors = [];
    private JobTableServer? _jobTable;

    private LocalCluster(LocalClusterOptions options)
    {
        Root = Path.GetFullPath(options.Root);
        Logs = Path.Combine(Root, "logs");
        Storage = Path.Combine(Root, "storage");
    }

    /// <summary>The cluster's folder.</summary>
    public string Root { get; }

    /// <summary>Where each process's log is: <c>NAME.log</c>.</summary>
    public string Logs { get; }

    /// <summary>The shared storage folder, unless S3 is configured.</summary>
    public string Storage { get; }

    /// <summary>The gateway's address (the API, the dashboard), once started.</summary>
    public Uri Gateway => Urls[ClusterFunction.Gateway.Name];

    /// <summary>The API key of the user <see cref="LocalApiKey.User"/>, once started.</summary>
    public string ApiKey { get; private set; } = "";

    /// <summary>
    /// Starts a cluster and returns it once every process is ready, without supervision (no restarts, no sweeps): what a
    /// benchmark needs. Disposing it stops it. Throws <see cref="ClusterStartException"/> when it cannot start.
    /// </summary>
    public static async Task<LocalCluster> StartAsync(LocalClusterOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var cluster = new LocalCluster(options);
        try
        {
            await cluster.StartProcessesAsync(options, output, cancellationToken).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs the cluster until <paramref name="stopping"/> fires (0) or a process dies (1); reports on the writers.</summary>
    public static async Task<int> RunAsync(LocalClusterOptions options, TextWriter output, TextWriter error, CancellationToken stopping)
    {
        await using var cluster = new LocalCluster(options);
        IReadOnlyList<ClusterProcess> running;
        try
        {
            running = await cluster.StartProcessesAsync(options, output, stopping).ConfigureAwait(false);
        }
        catch (ClusterStartException e)
        {
            await error.WriteLineAsync($"gedge: the cluster did not start: {e.Message}").ConfigureAwait(false);
            return 1;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return 0;
        }

        var gateway = new Uri(cluster.Gateway, GEdge.Hosting.FunctionRoutes.Sweep);
        // Ctrl+C in a terminal reaches the children as well as serve: a child that stops for it must not be started again
        // in the moment before serve itself begins to stop.
        await using var stopSupervising = stopping.Register(cluster._supervision.Cancel);
        var token = cluster._supervision.Token;
        cluster._supervisors.AddRange(Enumerable.Range(0, running.Count).Select(i => cluster.SuperviseAsync(i, output, token)));
        cluster._supervisors.Add(cluster.SuperviseJobTableAsync(output, token));
        if (cluster.Autoscaler is { } autoscaler)
        {
            // Ends the cluster if the autoscaler fails; while stopping, the wait ends with the supervision (the autoscaler
            // itself stops when the cluster is disposed, after the supervisors).
            cluster._supervisors.Add(autoscaler.Completion.WaitAsync(token));
        }

        cluster._supervisors.Add(SweepEveryAsync(gateway, cluster.SenderToken, options.SweepInterval, output, token));

        var stopped = Task.Delay(Timeout.Infinite, stopping);
        var failed = await Task.WhenAny(stopped, Task.WhenAny(cluster._supervisors)).ConfigureAwait(false);
        // Ctrl+C in a terminal reaches the children too; one that stops for it is not restarted, since serve stops as well.
        if (stopping.IsCancellationRequested)
        {
            await output.WriteLineAsync("gedge: stopping the cluster").ConfigureAwait(false);
            return 0;
        }

        // Only a process that can no longer even be started ends the cluster.
        var supervisor = await ((Task<Task>)failed).ConfigureAwait(false);
        var cause = supervisor.Exception?.GetBaseException();
        await error.WriteLineAsync($"gedge: {cause?.Message}{Environment.NewLine}gedge: stopping the cluster.").ConfigureAwait(false);
        return 1;
    }

    /// <summary>Stops every process, functions first (asked to stop, then killed), the job table last, so nothing is left writing to it.</summary>
    public async ValueTask DisposeAsync()
    {
        // No process is started again once the cluster stops.
        await _supervision.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_supervisors).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ClusterStartException)
        {
            // Stopped, or already reported.
        }

        // SIGTERM first, as a kubelet stops a pod, and in dependency order: the stages first, each finishing or giving back
        // the stage in hand within its Stages:ShutdownGrace (15 s) while the broker still holds the request and carries
        // its reply, and the job table still records the give-back; then the gateway and the broker; the job table last.
        // Stopped all at once, the broker's exit called off every stage's request and the jobs kept their leases.
        var stages = _processes.Where(p => IsStage(p.Name)).ToList();
        await Task.WhenAll([
            .. stages.Select(p => p.StopAsync(s_stageStopGrace).AsTask()),
            Autoscaler?.DisposeAsync().AsTask() ?? Task.CompletedTask,
        ]).ConfigureAwait(false);
        await Task.WhenAll(_processes.Except(stages).Select(p => p.StopAsync(s_serviceStopGrace).AsTask())).ConfigureAwait(false);
        if (_jobTable is not null)
        {
            await _jobTable.DisposeAsync().ConfigureAwait(false);
        }

        _supervision.Dispose();
    }

    private static bool IsStage(string name) => PipelineTopology.Stages.Any(stage => stage.Name == FunctionOf(name));

    /// <summary>Where serve keeps <see cref="SenderToken"/> while it runs (owner-only), for whoever posts an event by hand.</summary>
    public const string SenderTokenFileName = "sender-token";

    /// <summary>The secret the cluster's event senders carry (<see cref="EventSenderOptions.Token"/>).</summary>
    private string SenderToken { get; } = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    // A new file each start, created with the owner's read and write bits only before the token is written.
    private void WriteSenderToken()
    {
        var path = Path.Combine(Root, SenderTokenFileName);
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var file = new StreamWriter(path, System.Text.Encoding.ASCII, options);
        file.WriteLine(SenderToken);
    }

    /// <summary>The address of each process by name, once started.</summary>
    private Dictionary<string, Uri> Urls { get; set; } = [];

    // Starts the process in slot `index` again whenever it exits, as a kubelet restarts a container, and says so.
    // The backoff is a kubelet's CrashLoopBackOff, not a retry: there is no operation that fails and is tried again, but
    // a process that exits at times of its own, whose delay depends on how long it last ran (at once after 10 s of
    // running, else 1 s doubling to 30 s), so the state is carried from one exit to the next. A Polly retry counts
    // attempts of one call and has no notion of "ran long enough, start over", so the three lines below stay.
    private async Task SuperviseAsync(int index, TextWriter output, CancellationToken cancellationToken)
    {
        var restarts = 0;
        var backoff = TimeSpan.Zero;
        while (true)
        {
            var process = _processes[index];
            await process.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
            backoff = DateTimeOffset.UtcNow - process.StartedAt >= s_stableAfter ? TimeSpan.Zero
                : backoff == TimeSpan.Zero ? s_firstBackoff
                : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, s_maxBackoff.Ticks));
            restarts++;
            await output.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"gedge: {process.Name} exited with code {process.ExitCode}; starting it again{(backoff > TimeSpan.Zero ? $" in {backoff.TotalSeconds} s" : "")} (restart {restarts}, log {process.LogPath})")).ConfigureAwait(false);
            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            _processes[index] = await process.StartAgainAsync().ConfigureAwait(false);
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"gedge: {process.Name} started again (pid {_processes[index].Id})")).ConfigureAwait(false);
        }
    }

    // redis-server, started again on its port and data folder: it replays its append-only file before it answers.
    private async Task SuperviseJobTableAsync(TextWriter output, CancellationToken cancellationToken)
    {
        var server = _jobTable!;
        while (true)
        {
            await server.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"gedge: the job table server exited with code {server.ExitCode}; starting it again")).ConfigureAwait(false);
            await server.RestartAsync(cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync($"gedge: the job table server is serving again at {server.ConnectionString}").ConfigureAwait(false);
        }
    }

    /// <summary>
    /// What the cluster's PingSource (<c>knative/sources.yaml</c>) does: a ping event posted to the gateway's sweep endpoint
    /// every <paramref name="interval"/>, carrying the cluster's sender token, so the sweep runs in the gateway, against its
    /// job table and broker, as it does in a cluster. A failed ping is reported once, and the next one tries again.
    /// </summary>
    private static async Task SweepEveryAsync(Uri sweep, string senderToken, TimeSpan interval, TextWriter output, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", senderToken);
        using var timer = new PeriodicTimer(interval);
        var failing = false;
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            var ping = new CloudEvent
            {
                Id = Guid.NewGuid().ToString("N"),
                Type = "dev.knative.sources.ping",
                Source = new Uri("/apis/v1/namespaces/default/pingsources/gedge-sweeper", UriKind.Relative),
                Time = DateTimeOffset.UtcNow,
                DataContentType = "application/json",
                Data = JsonDocument.Parse("""{"sweep":"expired-leases"}""").RootElement,
            };
            try
            {
                using var content = ping.ToHttpContent(ContentMode.Binary, s_formatter);
                using var response = await http.PostAsync(sweep, content, cancellationToken).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
                var taken = answer.RootElement.GetProperty("takenBack").GetInt32();
                if (taken > 0)
                {
                    await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"gedge: the sweep took back {taken} job(s) whose stage had stopped")).ConfigureAwait(false);
                }

                failing = false;
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or KeyNotFoundException
                || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                if (!failing)
                {
                    await output.WriteLineAsync($"gedge: a sweep failed ({e.Message}); the next one tries again").ConfigureAwait(false);
                }

                failing = true;
            }
        }
    }

    private async Task<IReadOnlyList<ClusterProcess>> StartProcessesAsync(LocalClusterOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Logs);
        IReadOnlyDictionary<string, ServiceManifest>? services;
        try
        {
            services = options.ScaleToZero ? KnativeEventing.Load(KnativeEventing.FindDirectory()).Services : null;
        }
        catch (KnativeManifestException e)
        {
            throw new ClusterStartException($"the autoscaler cannot read knative/: {e.Message}");
        }

        var processesOf = ProcessCounts(options, services ?? new Dictionary<string, ServiceManifest>());
        var ports = AllocatePorts(options.Port, processesOf);
        var urls = ports.ToDictionary(p => p.Key, p => new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{p.Value}/")));
        Urls = urls;
        await output.WriteLineAsync($"gedge: starting the local cluster in {Root}; each process logs to {Logs}{Path.DirectorySeparatorChar}NAME.log").ConfigureAwait(false);

        _jobTable = await JobTableServer.StartAsync(Root, Logs, cancellationToken).ConfigureAwait(false);
        var s3 = Environment.GetEnvironmentVariable("Storage__S3__Endpoint");
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            // The cluster's sender credential: its broker, functions and sweeper ping carry it, and every event endpoint
            // takes only events that do (the API's port is the gateway's, so its event endpoints are reachable from
            // outside). A new one per start: nothing outside the cluster ever needs it.
            [$"{EventSenderOptions.SectionName.Replace(":", "__", StringComparison.Ordinal)}__{nameof(EventSenderOptions.Token)}"] = SenderToken,
            [$"{JobTableOptions.SectionName}__{nameof(JobTableOptions.ConnectionString)}"] = _jobTable.ConnectionString,
            ["Storage__Local__Root"] = Storage,
            [$"{EventSinkOptions.SectionName}__{nameof(EventSinkOptions.Sink)}"] = urls[BrokerName].ToString(),
            [$"{BrokerOptions.SectionName}__{nameof(BrokerOptions.NodeCores)}"] = options.Cores.ToString(CultureInfo.InvariantCulture),
        };
        // The node's volume for ONNX Runtime's optimized model (knative/services.yaml mounts one on Infer), so the
        // second cold start of Infer on this machine loads what the first one optimized. A setting of serve's own wins.
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(SessionCacheVariable)))
        {
            environment[SessionCacheVariable] = SessionCache;
        }

        foreach (var function in ClusterFunction.All)
        {
            environment[$"{BrokerOptions.SectionName}__{nameof(BrokerOptions.Services)}__{function.Name}"] = urls[function.Name].ToString();
            for (var replica = 2; replica <= processesOf(function.Name); replica++)
            {
                environment[string.Create(CultureInfo.InvariantCulture, $"{BrokerOptions.SectionName}__{nameof(BrokerOptions.Replicas)}__{function.Name}__{replica - 2}")] =
                    urls[ReplicaName(function.Name, replica)].ToString();
            }
        }

        // Stages that run no process at all (--scale infer=0: no node for them), and those the autoscaler starts on demand:
        // the broker holds their requests until a pod is announced, which for the first never happens here.
        var absent = PipelineTopology.Stages.Select(stage => stage.Name).Where(f => processesOf(f) == 0).ToList();
        var scaled = options.ScaleToZero ? PipelineTopology.Stages.Select(stage => stage.Name).Except(absent).ToList() : [];
        string[] held = [.. absent, .. scaled];
        for (var i = 0; i < held.Length; i++)
        {
            environment[string.Create(CultureInfo.InvariantCulture, $"{BrokerOptions.SectionName}__{nameof(BrokerOptions.Autoscaled)}__{i}")] = held[i];
        }

        // The gateway's cluster-local events Service is the gateway process itself here: its own port is loopback only,
        // and its event endpoints refuse anyone without the cluster's sender token.
        environment[$"{BrokerOptions.SectionName}__{nameof(BrokerOptions.Services)}__{GEdgeTriggers.GatewayEventsService}"] = urls[ClusterFunction.Gateway.Name].ToString();
        foreach (var (variable, value) in options.Environment)
        {
            environment[variable] = value;
        }

        WriteSenderToken();
        var apiKey = LocalApiKey.Resolve(Root);
        ApiKey = apiKey.Key;

        ClusterProcess Start(string name, Uri url, IReadOnlyList<string> extra)
        {
            var arguments = name == BrokerName
                ? new List<string> { "broker", "--urls", url.ToString() }
                : ["function", FunctionOf(name), "--urls", url.ToString()];
            if (name == BrokerName && options.DuplicateDeliveries)
            {
                arguments.Add("--duplicate-deliveries");
            }

            arguments.AddRange(["--parent-pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture), .. extra]);
            var processEnvironment = new Dictionary<string, string>(environment, StringComparer.Ordinal)
            {
                // The source of the events a function sends is its own address, as a Knative Service's would be.
                [$"Stages__{nameof(StageOptions.EventSource)}"] = url.ToString(),
                // What its traces are named by, as K_SERVICE names a Knative Service's.
                ["OTEL_SERVICE_NAME"] = $"gedge-{name}",
            };
            if (FunctionOf(name) == ClusterFunction.Gateway.Name)
            {
                foreach (var (variable, value) in apiKey.GatewayEnvironment)
                {
                    processEnvironment[variable] = value;
                }
            }

            return ClusterProcess.Start(name, GedgeCommand.FileName, GedgeCommand.Arguments(arguments), processEnvironment, Path.Combine(Logs, name + ".log"));
        }

        var starting = new List<(ClusterProcess Process, Uri Url)>();
        foreach (var (name, url) in urls.Where(u => !held.Contains(FunctionOf(u.Key))))
        {
            var process = Start(name, url, []);
            _processes.Add(process);
            starting.Add((process, url));
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var waits = starting.Select(s => WaitUntilReadyAsync(s.Process, s.Url, http, cancellationToken)).ToList();
        while (waits.Count > 0)
        {
            // The first process that fails ends the start at once, rather than after the others are ready.
            var done = await Task.WhenAny(waits).ConfigureAwait(false);
            waits.Remove(done);
            await done.ConfigureAwait(false);
        }

        if (scaled.Count > 0)
        {
            var coldStarts = Directory.CreateDirectory(Path.Combine(Root, "cold-starts")).FullName;
            Autoscaler = new LocalAutoscaler(
                [.. scaled.Select(f => new ScaledFunction(
                    f,
                    [.. Enumerable.Range(1, processesOf(f)).Select(replica => KeyValuePair.Create(ReplicaName(f, replica), urls[ReplicaName(f, replica)]))],
                    services?.GetValueOrDefault(f)?.Target ?? ServiceManifest.KnativeDefaultTarget))],
                urls[BrokerName],
                SenderToken,
                Start,
                async (process, url, token) =>
                {
                    // Probed every 50 ms, as Knative's queue-proxy probes a starting container whose readiness probe sets no
                    // period: a growing interval (as at serve's start) added up to half a second to a cold start.
                    using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
                    await WaitUntilReadyAsync(process, url, probe, token, s_coldStartProbe).ConfigureAwait(false);
                },
                options.IdleWindow,
                s_stageStopGrace,
                coldStarts,
                output);
            Autoscaler.Start();
        }

        var scrapeConfig = PrometheusScrapeConfig.Write(Root, urls, FunctionOf);
        await output.WriteLineAsync("gedge: local cluster ready").ConfigureAwait(false);
        foreach (var (name, url) in urls)
        {
            await output.WriteLineAsync($"  {name,-12} {url}").ConfigureAwait(false);
        }

        foreach (var function in absent)
        {
            await output.WriteLineAsync($"  {"no process",-12} {function} (--scale {function}=0): its requests wait in the broker").ConfigureAwait(false);
        }

        if (scaled.Count > 0)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  {"scaling",-12} to zero: {string.Join(", ", scaled.Select(f => $"{f} up to {processesOf(f)}"))} process(es), started on their first request and stopped after {options.IdleWindow.TotalSeconds} s without one")).ConfigureAwait(false);
        }

        await output.WriteLineAsync($"  {"job table",-12} {_jobTable.Description}").ConfigureAwait(false);
        await output.WriteLineAsync($"  {"storage",-12} {(string.IsNullOrWhiteSpace(s3) ? Storage : $"S3 at {s3}")}").ConfigureAwait(false);
        await output.WriteLineAsync($"  {"logs",-12} {Logs}").ConfigureAwait(false);
        await output.WriteLineAsync($"  {"metrics",-12} /{GEdge.Hosting.FunctionRoutes.Metrics} on each; scrape them all with: prometheus --config.file={scrapeConfig}").ConfigureAwait(false);
        foreach (var line in apiKey.ReadyLines(urls[ClusterFunction.Gateway.Name]))
        {
            await output.WriteLineAsync(line).ConfigureAwait(false);
        }

        await output.WriteLineAsync($"submit a video with: ./gedge submit VIDEO --server {urls[ClusterFunction.Gateway.Name]}").ConfigureAwait(false);
        await output.WriteLineAsync("stop with Ctrl+C").ConfigureAwait(false);
        return _processes;
    }

    private const string SessionCacheVariable = "Detector__SessionCache";

    /// <summary>The session cache folder serve gives its processes (unless serve's own environment names one).</summary>
    public string SessionCache => Environment.GetEnvironmentVariable(SessionCacheVariable) is { Length: > 0 } own ? own : Path.Combine(Root, "session-cache");

    /// <summary>
    /// Tells <paramref name="stage"/> to get ready, as the stage before it does when it starts on a job: a stage warm-up
    /// event into the broker, for no job (a warm-up reads nothing of its job). Scaled to zero, this alone starts it.
    /// </summary>
    public async Task WarmUpAsync(PipelineStage stage, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", SenderToken);
        using var content = GEdgeEvents.CreateStageWarmup(0, stage, new Uri("urn:gedge:serve")).ToHttpContent(ContentMode.Binary, s_formatter);
        using var response = await http.PostAsync(Urls[BrokerName], content, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>The stages' autoscaler, with <see cref="LocalClusterOptions.ScaleToZero"/>; null without.</summary>
    public LocalAutoscaler? Autoscaler { get; private set; }

    // How many processes each function may run: the --scale counts (one where none is given); scaled to zero, a stage's
    // --scale count is its maximum, and without one its Knative Service's max-scale, no more than the node's cores (a
    // node runs only the pods it has cores for) and at least one.
    private static Func<string, int> ProcessCounts(LocalClusterOptions options, IReadOnlyDictionary<string, ServiceManifest> services)
    {
        if (!options.ScaleToZero)
        {
            return options.ProcessesOf;
        }

        var cores = options.Cores > 0 ? options.Cores : MaxProcessesWithoutCores;
        return function => options.Scale.TryGetValue(function, out var count) ? count
            : !IsStage(function) ? 1
            : Math.Max(1, Math.Min(cores, services.GetValueOrDefault(function) is { MaxScale: > 0 } service ? service.MaxScale : cores));
    }

    // The most processes a stage scaled to zero gets with no limit on cores and no --scale count.
    private const int MaxProcessesWithoutCores = 4;
    // A function's second and later processes: postprocess-2, postprocess-3, ...
    private static string ReplicaName(string function, int replica) =>
        replica == 1 ? function : string.Create(CultureInfo.InvariantCulture, $"{function}-{replica}");

    private static string FunctionOf(string process)
    {
        var dash = process.LastIndexOf('-');
        return dash > 0 && int.TryParse(process.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _) ? process[..dash] : process;
    }

    /// <summary>
    /// The gateway on the options' port, the broker and the stages' processes on the next ports (all free ones for 0);
    /// a stage scaled to several processes takes a port for each.
    /// </summary>
    private static Dictionary<string, int> AllocatePorts(int port, Func<string, int> processesOf)
    {
        string[] names =
        [
            ClusterFunction.Gateway.Name, BrokerName,
            // A function with no process still has its Service's address, which the broker's Triggers resolve.
            .. ClusterFunction.All.Skip(1).SelectMany(f => Enumerable.Range(1, Math.Max(1, processesOf(f.Name))).Select(replica => ReplicaName(f.Name, replica))),
        ];
        var ports = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < names.Length; i++)
        {
            var chosen = port == 0 ? ClusterPorts.FreeLoopbackPort() : port + i;
            if (port != 0 && !ClusterPorts.IsFree(chosen))
            {
                throw new ClusterStartException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"port {chosen}, for the {names[i]}, is in use; choose another --port (it and the {(names.Length == 5 ? "four" : (names.Length - 1).ToString(CultureInfo.InvariantCulture))} after it are used), or --port 0 for free ports."));
            }

            ports[names[i]] = chosen;
        }

        return ports;
    }

    private static readonly TimeSpan s_coldStartProbe = TimeSpan.FromMilliseconds(50);

    // Polls the probe with a growing interval (50 ms doubling to `longest`, 1 s unless given); the process's exit ends the
    // wait at once, with its log.
    private static async Task WaitUntilReadyAsync(ClusterProcess process, Uri url, HttpClient http, CancellationToken cancellationToken, TimeSpan? longest = null)
    {
        var probe = new Uri(url, FunctionRoutes.Readiness);
        var last = "no answer yet";
        async ValueTask<bool> IsReadyAsync(CancellationToken token)
        {
            try
            {
                using var response = await http.GetAsync(probe, token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return true;
                }

                last = $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(token).ConfigureAwait(false)}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            catch (TaskCanceledException e) when (e.InnerException is TimeoutException)
            {
                last = "the probe timed out";
            }

            return false;
        }

        if (!await process.WaitUntilReadyAsync(IsReadyAsync, TimeSpan.FromMilliseconds(50), longest ?? TimeSpan.FromSeconds(1), s_readyTimeout, cancellationToken).ConfigureAwait(false))
        {
            throw new ClusterStartException(
                $"{process.Name} was not ready within {s_readyTimeout.TotalSeconds} s ({probe}: {last}). The end of {process.LogPath}:{Environment.NewLine}{process.LogTail()}");
        }
    }
}
