using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using GEdge.Events.Broker;

namespace GEdge.Cli.Cluster;

/// <summary>A function the local autoscaler scales: the process slots it may use (name and address each) and its target.</summary>
/// <param name="Name">The function (<c>infer</c>).</param>
/// <param name="Slots">Where its processes run, as many as it may scale to: <c>infer</c>, <c>infer-2</c>, ... with their addresses.</param>
/// <param name="Target">Requests in flight per process it aims at (its Knative Service's <c>autoscaling.knative.dev/target</c>).</param>
internal sealed record ScaledFunction(string Name, IReadOnlyList<KeyValuePair<string, Uri>> Slots, double Target)
{
    /// <summary>The most processes it runs.</summary>
    public int Max => Slots.Count;
}

/// <summary>One cold start: a process started because its function had requests, and how long until it answered ready.</summary>
/// <param name="Process">The process (<c>infer</c>, <c>infer-2</c>).</param>
/// <param name="Pid">Its id.</param>
/// <param name="StartedAt">When it was started.</param>
/// <param name="ToReady">From the start until its <c>/readyz</c> answered (model loaded, for Infer).</param>
/// <param name="Timings">Where the process writes its start-up parts when it stops (<c>gedge function --timings</c>).</param>
internal sealed record ColdStart(string Process, int Pid, DateTimeOffset StartedAt, TimeSpan ToReady, string Timings);

/// <summary>
/// Knative's autoscaler for the local cluster, in its simplest form (<c>gedge serve --scale-to-zero</c>): every
/// <see cref="Tick"/> it reads each autoscaled Service's requests from the broker (queued, held, in flight: what Knative's
/// KPA reads from the activator and the queue-proxies), wants <c>ceil(requests / target)</c> processes up to the
/// function's maximum, starts them at once when it wants more, and stops one only when it has wanted fewer for a whole
/// idle window (the KPA's stable window: the most wanted over the window counts), so a function with no requests for that
/// long runs no process at all. A process is announced to the broker once its readiness probe answers, as a pod joins a
/// revision's Endpoints; one to be stopped is first taken out, then stopped (SIGTERM) once the deliveries already sent to
/// it are answered. Level-triggered, as Kubernetes' controllers are: each tick compares what the broker holds with what
/// runs and mends the difference, so a broker started again is told its pods again.
/// </summary>
/// <remarks>
/// Knative's own rules, from knative/serving <c>pkg/autoscaler/scaling/autoscaler.go</c> (desired pods = observed
/// concurrency / target per pod, scale-down only to the maximum over the stable window) and
/// <c>docs/scaling/SYSTEM.md</c> (the activator holds requests to a revision at zero and reports them, so the first
/// request starts the first pod). Its panic mode, rate limits and the scale-to-zero grace period are left out: one
/// machine's handful of processes needs none of them.
/// </remarks>
internal sealed class LocalAutoscaler : IAsyncDisposable
{
    /// <summary>How often the autoscaler reads the broker (Knative's autoscaler ticks every 2 s; a local cold start is a second).</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    // A process that exits before it is ready waits this long before the next try, doubling to the last, as a kubelet's
    // CrashLoopBackOff does.
    private static readonly TimeSpan s_firstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(30);

    private readonly IReadOnlyList<FunctionState> _functions;
    private readonly Uri _endpoints;
    private readonly HttpClient _broker;
    private readonly Func<string, Uri, IReadOnlyList<string>, ClusterProcess> _start;
    private readonly Func<ClusterProcess, Uri, CancellationToken, Task> _waitUntilReady;
    private readonly TimeSpan _idleWindow;
    private readonly TimeSpan _stopGrace;
    private readonly string _coldStarts;
    private readonly TextWriter _output;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lock = new();
    private readonly List<ColdStart> _coldStartLog = [];
    private readonly List<Task> _background = [];
    private Task _loop = Task.CompletedTask;
    private int _started;

    /// <param name="functions">The functions to scale.</param>
    /// <param name="broker">The broker's address.</param>
    /// <param name="senderToken">The cluster's sender token, which the broker's endpoints API asks for.</param>
    /// <param name="start">Starts a function's process: its slot's name, its address, extra arguments.</param>
    /// <param name="waitUntilReady">Waits until a process answers its readiness probe; throws if it exits or never does.</param>
    /// <param name="idleWindow">How long a function must want fewer processes before one stops.</param>
    /// <param name="stopGrace">How long a stopped process may take to finish before it is killed.</param>
    /// <param name="coldStarts">The folder the processes write their start-up parts to.</param>
    /// <param name="output">Where scaling is reported, a line each.</param>
    public LocalAutoscaler(
        IReadOnlyList<ScaledFunction> functions, Uri broker, string senderToken,
        Func<string, Uri, IReadOnlyList<string>, ClusterProcess> start, Func<ClusterProcess, Uri, CancellationToken, Task> waitUntilReady,
        TimeSpan idleWindow, TimeSpan stopGrace, string coldStarts, TextWriter output)
    {
        _functions = [.. functions.Select(f => new FunctionState(f))];
        _endpoints = new Uri(broker, BrokerServiceCollectionExtensions.EndpointsPath);
        _broker = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        _broker.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", senderToken);
        _start = start;
        _waitUntilReady = waitUntilReady;
        _idleWindow = idleWindow;
        _stopGrace = stopGrace;
        _coldStarts = coldStarts;
        _output = output;
    }

    /// <summary>Every cold start so far, in order.</summary>
    public IReadOnlyList<ColdStart> ColdStarts
    {
        get
        {
            lock (_lock)
            {
                return [.. _coldStartLog];
            }
        }
    }

    /// <summary>The ids of the processes of <paramref name="function"/> that run now (starting, ready or stopping).</summary>
    public IReadOnlyList<int> Processes(string function)
    {
        lock (_lock)
        {
            return [.. _functions.Single(f => f.Function.Name == function).Pods.Where(p => !p.Process.Exited.IsCompleted).Select(p => p.Process.Id)];
        }
    }

    /// <summary>
    /// Ends when scaling stops: at disposal, or faulted when a process could not be started at all (its command is gone),
    /// which ends serve as a process that cannot be started again does.
    /// </summary>
    public Task Completion => _loop;

    /// <summary>Starts scaling; <see cref="DisposeAsync"/> stops it and every process it started.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _loop = Task.Run(() => RunAsync(_stopping.Token));
        }
    }

    /// <summary>
    /// How many processes a function wants: its requests over its target per process, rounded up, at most
    /// <paramref name="max"/> (Knative's desired pod count for the concurrency metric).
    /// </summary>
    public static int Wanted(int requests, double target, int max) =>
        requests <= 0 ? 0 : Math.Min(max, (int)Math.Ceiling(requests / Math.Max(target, double.Epsilon)));

    /// <summary>Stops scaling, then every process it started, each given the stop grace to finish its work.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        List<Pod> pods;
        lock (_lock)
        {
            pods = [.. _functions.SelectMany(f => f.Pods)];
        }

        await Task.WhenAll(pods.Select(p => p.Process.StopAsync(_stopGrace).AsTask())).ConfigureAwait(false);
        await Task.WhenAll(_background).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _broker.Dispose();
        _stopping.Dispose();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Tick);
        var unreachable = false;
        while (await NextTickAsync(timer, cancellationToken).ConfigureAwait(false))
        {
            _background.RemoveAll(task => task.IsCompleted);
            IReadOnlyList<ServiceLoad>? load;
            try
            {
                load = await _broker.GetFromJsonAsync<List<ServiceLoad>>(_endpoints, JsonSerializerOptions.Web, cancellationToken).ConfigureAwait(false);
                unreachable = false;
            }
            catch (Exception e) when (e is HttpRequestException or JsonException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // The broker is being started again: nothing is delivered meanwhile, so nothing changes until it answers.
                if (!unreachable)
                {
                    await SayAsync($"the autoscaler cannot read the broker ({e.Message}); it waits for it").ConfigureAwait(false);
                }

                unreachable = true;
                load = null;
            }

            foreach (var function in _functions)
            {
                await ReapAsync(function).ConfigureAwait(false);
                if (load?.FirstOrDefault(s => s.Service == function.Function.Name) is { } service)
                {
                    await ScaleAsync(function, service, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    private static async Task<bool> NextTickAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    // Drops the processes that have exited: stopped ones quietly, others with a line; one that died before it was ready
    // delays the function's next start.
    private async Task ReapAsync(FunctionState function)
    {
        foreach (var pod in function.Pods.Where(p => p.Process.Exited.IsCompleted).ToList())
        {
            lock (_lock)
            {
                function.Pods.Remove(pod);
            }

            if (pod.State == PodState.Stopping)
            {
                continue;
            }

            if (pod.State == PodState.Starting)
            {
                function.Backoff = function.Backoff == TimeSpan.Zero ? s_firstBackoff : TimeSpan.FromTicks(Math.Min(function.Backoff.Ticks * 2, s_maxBackoff.Ticks));
                function.NotBefore = DateTimeOffset.UtcNow + function.Backoff;
            }

            await SayAsync(string.Create(CultureInfo.InvariantCulture,
                $"{pod.Name} exited with code {pod.Process.ExitCode} {(pod.State == PodState.Starting ? $"before it was ready; the next start waits {function.Backoff.TotalSeconds} s" : "; it is started again if its requests need it")} (log {pod.Process.LogPath})")).ConfigureAwait(false);
        }
    }

    private async Task ScaleAsync(FunctionState function, ServiceLoad service, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var wanted = Wanted(service.Requests, function.Function.Target, function.Function.Max);
        var keep = function.Window.Record(now, wanted, _idleWindow);
        var active = function.Pods.Where(p => p.State is PodState.Starting or PodState.Ready).ToList();

        if (wanted > active.Count)
        {
            // Requests came back while a process drained: it takes them again rather than a new one starting.
            foreach (var pod in function.Pods.Where(p => p.State == PodState.Draining).Take(wanted - active.Count).ToList())
            {
                pod.State = PodState.Ready;
                active.Add(pod);
            }

            if (wanted > active.Count && now >= function.NotBefore)
            {
                await SayAsync($"{function.Function.Name}: {active.Count} -> {wanted} process(es) for {service.Requests} request(s)").ConfigureAwait(false);
                for (var i = active.Count; i < wanted; i++)
                {
                    StartProcess(function, cancellationToken);
                }
            }
        }
        else if (keep < active.Count && active.Where(p => p.State == PodState.Ready).OrderByDescending(p => p.Slot)
            .FirstOrDefault(p => InFlight(service, p) == 0) is { } idle)
        {
            // One at a time, the idlest last-started first: the next tick takes the next if the window still says so.
            idle.State = PodState.Draining;
            await SayAsync(string.Create(CultureInfo.InvariantCulture,
                $"{function.Function.Name}: {active.Count} -> {active.Count - 1} process(es), none of its requests wanted more for {_idleWindow.TotalSeconds} s; stopping {idle.Name}")).ConfigureAwait(false);
        }

        // A drained process (out of the broker's pods, nothing in flight there) stops.
        foreach (var pod in function.Pods.Where(p => p.State == PodState.Draining && !IsAnnounced(service, p) && InFlight(service, p) == 0).ToList())
        {
            pod.State = PodState.Stopping;
            _background.Add(pod.Process.StopAsync(_stopGrace).AsTask());
        }

        await AnnounceAsync(function, service, cancellationToken).ConfigureAwait(false);
    }

    // Tells the broker the function's ready processes when what it holds differs.
    private async Task AnnounceAsync(FunctionState function, ServiceLoad service, CancellationToken cancellationToken)
    {
        var ready = function.Pods.Where(p => p.State == PodState.Ready).Select(p => p.Address).OrderBy(a => a.AbsoluteUri, StringComparer.Ordinal).ToList();
        var held = service.Pods.Where(p => p.Ready).Select(p => p.Address).OrderBy(a => a.AbsoluteUri, StringComparer.Ordinal).ToList();
        if (ready.SequenceEqual(held))
        {
            return;
        }

        try
        {
            using var response = await _broker.PutAsJsonAsync(new Uri(_endpoints + "/" + function.Function.Name), ready, JsonSerializerOptions.Web, cancellationToken).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // The next tick tries again.
        }
    }

    private void StartProcess(FunctionState function, CancellationToken cancellationToken)
    {
        var (name, url) = function.Function.Slots.First(slot => function.Pods.All(p => p.Name != slot.Key));
        var sequence = Interlocked.Increment(ref function.Starts);
        var timings = Path.Combine(_coldStarts, string.Create(CultureInfo.InvariantCulture, $"{name}.{sequence}.json"));
        var process = _start(name, url, ["--timings", timings]);
        var pod = new Pod(name, function.Function.Slots.Select(s => s.Key).ToList().IndexOf(name), url, process);
        lock (_lock)
        {
            function.Pods.Add(pod);
        }

        _background.Add(Task.Run(async () =>
        {
            try
            {
                await _waitUntilReady(process, url, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ClusterStartException or OperationCanceledException)
            {
                // Exited or never ready: the next tick reaps it (a process that never answers is stopped for the next).
                if (e is ClusterStartException && !process.Exited.IsCompleted)
                {
                    await process.StopAsync(_stopGrace).ConfigureAwait(false);
                }

                return;
            }

            var coldStart = new ColdStart(name, process.Id, process.StartedAt, DateTimeOffset.UtcNow - process.StartedAt, timings);
            lock (_lock)
            {
                _coldStartLog.Add(coldStart);
                pod.State = PodState.Ready;
                function.Backoff = TimeSpan.Zero;
            }

            await SayAsync(string.Create(CultureInfo.InvariantCulture, $"{name} ready in {coldStart.ToReady.TotalSeconds:0.00} s (pid {process.Id})")).ConfigureAwait(false);
        }, CancellationToken.None));
    }

    private static int InFlight(ServiceLoad service, Pod pod) =>
        service.Pods.FirstOrDefault(p => p.Address == pod.Address)?.InFlight ?? 0;

    private static bool IsAnnounced(ServiceLoad service, Pod pod) =>
        service.Pods.Any(p => p.Ready && p.Address == pod.Address);

    private Task SayAsync(string line) => _output.WriteLineAsync("gedge: " + line);

    private enum PodState
    {
        Starting,
        Ready,
        Draining,
        Stopping,
    }

    private sealed class Pod(string name, int slot, Uri url, ClusterProcess process)
    {
        public string Name { get; } = name;

        public int Slot { get; } = slot;

        public Uri Address { get; } = PodLoad.AddressOf(url);

        public ClusterProcess Process { get; } = process;

        public PodState State { get; set; }
    }

    private sealed class FunctionState(ScaledFunction function)
    {
        public ScaledFunction Function { get; } = function;

        public List<Pod> Pods { get; } = [];

        public ScaleWindow Window { get; } = new();

        public TimeSpan Backoff { get; set; }

        public DateTimeOffset NotBefore { get; set; }

        public int Starts;
    }
}

/// <summary>
/// The processes a function wanted over the last window: the most wanted in it is what the autoscaler keeps, so it scales
/// down only after wanting fewer for a whole window (Knative's stable window).
/// </summary>
internal sealed class ScaleWindow
{
    private readonly Queue<(DateTimeOffset At, int Wanted)> _samples = new();

    /// <summary>Records what is wanted at <paramref name="now"/>; returns the most wanted within <paramref name="window"/> before it.</summary>
    public int Record(DateTimeOffset now, int wanted, TimeSpan window)
    {
        _samples.Enqueue((now, wanted));
        while (_samples.Peek().At < now - window)
        {
            _samples.Dequeue();
        }

        return _samples.Max(s => s.Wanted);
    }
}
