using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace GEdge.Cli;

/// <summary>One part of a process's start-up: when it began and how long it took, in milliseconds since the process started.</summary>
/// <param name="Name">What the part is (<c>runtime</c>, <c>job table server</c>, <c>model session</c>, <c>ffmpeg decoder</c>, ...).</param>
/// <param name="AtMs">When it began, since the process started.</param>
/// <param name="TookMs">How long it took.</param>
public sealed record StartupPart(string Name, double AtMs, double TookMs);

/// <summary>
/// Where a <c>gedge</c> process's time goes, from the moment the operating system started it: <c>runtime</c> (until
/// <c>Main</c> runs: the .NET host, the runtime, loading the program), then the first of each activity G-Edge's libraries
/// report (their ActivitySources, all named <c>GEdge.*</c>: the job table server and connection, the model session, the
/// first inference, the first ffprobe and each ffmpeg role, the host's build and start, the job, the shutdown). The first
/// of each is what start-up costs; later ones are the work itself. Listening costs nothing when nobody asks for it: the
/// libraries' activities are not even created without a listener.
/// </summary>
public sealed class StartupTimeline : IDisposable
{
    /// <summary>The command line's own activities (host build, host start, job, results, shutdown).</summary>
    public static readonly ActivitySource Activities = new("GEdge.Cli");

    // When Main began, stamped by Program before anything else runs.
    private static DateTime s_mainEnteredUtc = DateTime.UtcNow;

    private readonly ActivityListener _listener;
    private readonly ConcurrentDictionary<string, StartupPart> _first = new(StringComparer.Ordinal);
    private readonly DateTime _processStartUtc;

    /// <summary>Starts listening to every <c>GEdge.*</c> activity source.</summary>
    public StartupTimeline()
    {
        using (var self = Process.GetCurrentProcess())
        {
            _processStartUtc = self.StartTime.ToUniversalTime();
        }

        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name.StartsWith("GEdge.", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity => _first.TryAdd(activity.DisplayName, Part(activity.DisplayName, activity.StartTimeUtc, activity.Duration)),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>Stamps the moment <c>Main</c> began; the first thing Program does.</summary>
    public static void MainEntered() => s_mainEnteredUtc = DateTime.UtcNow;

    /// <summary>The parts seen so far, in the order they began, <c>runtime</c> first.</summary>
    public IReadOnlyList<StartupPart> Parts =>
    [
        Part("runtime", _processStartUtc, s_mainEnteredUtc - _processStartUtc),
        .. _first.Values.OrderBy(part => part.AtMs),
    ];

    /// <summary>
    /// Prints the parts seen so far on stderr, a line each (when it began and how long it took), and writes them to
    /// <paramref name="path"/> as JSON (an array of <see cref="StartupPart"/>, as <see cref="ReadAsync"/> reads them).
    /// </summary>
    public async Task ReportAsync(string path, CancellationToken cancellationToken)
    {
        var parts = Parts;
        await Console.Error.WriteLineAsync($"{"start-up part",-28} {"at ms",8} {"took ms",8}").ConfigureAwait(false);
        foreach (var part in parts)
        {
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{part.Name,-28} {part.AtMs,8:0} {part.TookMs,8:0}")).ConfigureAwait(false);
        }

        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, parts, CliJsonContext.Default.IReadOnlyListStartupPart, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads what <see cref="ReportAsync"/> wrote.</summary>
    public static async Task<IReadOnlyList<StartupPart>> ReadAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(path);
        return await JsonSerializer.DeserializeAsync(file, CliJsonContext.Default.IReadOnlyListStartupPart, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"{path} holds no start-up parts.");
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();

    private StartupPart Part(string name, DateTime startUtc, TimeSpan took) =>
        new(name, (startUtc - _processStartUtc).TotalMilliseconds, took.TotalMilliseconds);
}
