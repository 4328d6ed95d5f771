using System.Diagnostics;
using System.Globalization;
using GEdge.Contracts;
using GEdge.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GEdge.Cli.Commands;

/// <summary>
/// <c>gedge bench --telemetry</c>: what telemetry costs a job. The same job through the embedded pipeline, alternately
/// without traces and with every span exported over OTLP/HTTP (the standard variables, a 100 ms batch delay so spans leave
/// while the job runs) to a sink in this process that takes them as a collector would; the median of each side and their
/// ratio (goal: within 2 %). The metrics are counted in both (nothing switches them off), so their part is measured
/// apart: the time of one update on a real <see cref="GEdgeMetrics"/>, times the updates the job made.
/// </summary>
internal static class TelemetryBenchmark
{
    private const double Goal = 1.02;

    public static async Task<int> RunAsync(string clip, int runs, string scratch, CancellationToken cancellationToken)
    {
        await using var sink = await OtlpSink.StartAsync(cancellationToken).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"telemetry: the job on {Path.GetFileName(clip)} through the embedded pipeline, traces off and on alternately, {runs} runs each; {Environment.ProcessorCount} cores"));
        var traced = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.Endpoint.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        };
        var off = new List<double>();
        var on = new List<double>();
        BenchCommand.JobRun? last = null;
        for (var run = 0; run < runs; run++)
        {
            off.Add((await BenchCommand.RunJobAsync(clip, Path.Combine(scratch, $"telemetry-off-{run}"), rawFrames: false, cancellationToken).ConfigureAwait(false)).Seconds);
            last = await BenchCommand.RunJobAsync(clip, Path.Combine(scratch, $"telemetry-on-{run}"), rawFrames: false, cancellationToken, traced).ConfigureAwait(false);
            on.Add(last.Seconds);
        }

        var offSeconds = BenchStatistics.Median(off);
        var onSeconds = BenchStatistics.Median(on);
        var ratio = onSeconds / offSeconds;
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"traces off  {offSeconds,8:0.00} s   median; runs {string.Join(", ", off.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"traces on   {onSeconds,8:0.00} s   median; runs {string.Join(", ", on.Select(s => s.ToString("0.00", CultureInfo.InvariantCulture)))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ratio       {ratio,8:0.000}     goal <= {Goal:0.00}; the sink took {sink.Requests} OTLP requests, {sink.Bytes / 1024.0:0.0} KiB"));

        // The metrics' part: one update's time, on the instruments a job updates, times the updates one job makes (one
        // inference observation per batch, so at most one a frame; per segment and stage eight, as in a round below; a
        // few per job).
        var frames = int.Parse(last!.Job.Fields[JobTable.SegmentFields.Frames], CultureInfo.InvariantCulture);
        var segments = last.Segments.Count;
        var updates = frames + (segments * PipelineTopology.Stages.Count * 8) + 20;
        var perUpdate = MeasureUpdateNanoseconds();
        var metricsMs = updates * perUpdate / 1e6;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"metrics     {perUpdate,8:0} ns an update x about {updates} updates in the job = {metricsMs:0.000} ms, {metricsMs / (offSeconds * 1000):0.0000 %} of the job"));
        Console.WriteLine(ratio <= Goal ? "goal met" : "goal not met");
        return 0;
    }

    // The mean time of the updates a stage makes per segment, on a registry of its own, after a warm-up.
    private static double MeasureUpdateNanoseconds()
    {
        var metrics = new GEdgeMetrics();
        var stage = metrics.ForStage(PipelineTopology.Infer);
        const int Rounds = 200_000;
        void Round()
        {
            using (stage.Claimed(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow))
            {
                metrics.Inferred(TimeSpan.FromMilliseconds(20), 1);
                stage.Completed(TimeSpan.FromSeconds(1), 25);
            }

            metrics.SegmentsEntered(JobStatus.Inferencing);
            metrics.JobEntered(JobStatus.Inferencing_complete);
        }

        for (var i = 0; i < Rounds / 10; i++)
        {
            Round();
        }

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Rounds; i++)
        {
            Round();
        }

        // Each round is eight updates: the wait, the in-flight gauge up and down, the inference, the duration, the frames,
        // two transitions.
        return clock.Elapsed.TotalNanoseconds / (Rounds * 8.0);
    }

    /// <summary>
    /// Where the traces go: an OTLP/HTTP endpoint (<c>POST /v1/traces</c>) on a free loopback port that reads each export
    /// whole and answers 200 with an empty <c>ExportTraceServiceResponse</c> (an empty protobuf message is no bytes), as
    /// a collector acknowledges one. It keeps nothing but the count: decoding is the collector's cost, on its own machine.
    /// </summary>
    private sealed class OtlpSink : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private long _requests;
        private long _bytes;

        private OtlpSink(WebApplication app) => _app = app;

        public Uri Endpoint { get; private set; } = null!;

        public long Requests => Interlocked.Read(ref _requests);

        public long Bytes => Interlocked.Read(ref _bytes);

        public static async Task<OtlpSink> StartAsync(CancellationToken cancellationToken)
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var sink = new OtlpSink(app);
            app.MapPost("/v1/traces", async (HttpContext context) =>
            {
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted).ConfigureAwait(false)) > 0)
                {
                    Interlocked.Add(ref sink._bytes, read);
                }

                Interlocked.Increment(ref sink._requests);
                context.Response.ContentType = "application/x-protobuf";
                context.Response.StatusCode = StatusCodes.Status200OK;
            });
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            sink.Endpoint = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
            return sink;
        }

        public ValueTask DisposeAsync() => _app.DisposeAsync();
    }
}
