using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using GEdge.Artifacts;
using GEdge.Contracts;
using GEdge.Events;
using GEdge.JobTable;
using GEdge.Jobs;
using GEdge.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GEdge.Gateway.Peers;

/// <summary>
/// Spill-over to peer edges: a segment that has waited for Infer here longer than <see cref="PeerOptions.SpillAfter"/>
/// (no GPU node, Infer at its limit, a backlog) is claimed as any stage claims one (the same compare-and-set into
/// Inferencing, the same lease, renewed while it is away), its cut piece of video (compressed, as uploaded: never raw
/// frames) is sent to the peer with the shortest Infer wait as a job of the segment's user under the key that peer issued
/// for that user, and the peer's annotated piece and detections are brought back into this edge's storage as Infer and
/// Postprocess would have left them: the segment is then recorded as inferred and postprocessed, and the job finishes here
/// exactly as if the segment had stayed (the join joins it with the others). The peer's job is deleted once its results
/// are fetched, so the peer keeps nothing. A peer that fails, refuses or times out gives the segment back (no attempt
/// counted: the segment did not fail), and is left out for <see cref="PeerOptions.PeerBackoff"/>.
/// <para>
/// What a peer holds of this edge is also put right from the job table alone, every
/// <see cref="PeerOptions.ReconcileInterval"/> (level-triggered, as a Kubernetes controller reconciles): each attempt names its upload <c>job-J-segment-S-A.mp4</c> after the attempt
/// <c>A</c> its claim recorded as the segment's worker, and any job of ours at a peer whose segment is no longer in that
/// attempt here is deleted. That covers what no reply reports: a submission whose answer was lost (the peer's gateway or
/// broker killed while it made the job, so its number never came back), a delete that failed, a segment the sweeper took
/// back from a gateway that died, and, as the job table is shared, whichever gateway replica spilled it.
/// </para>
/// </summary>
public sealed partial class SegmentSpiller(
    JobTable.JobTable jobs,
    IObjectStore store,
    IOptions<BucketOptions> buckets,
    IEventPublisher publisher,
    IOptions<StageOptions> stageOptions,
    IOptions<PeerOptions> options,
    IHttpClientFactory httpClients,
    TimeProvider time,
    ILogger<SegmentSpiller> logger) : BackgroundService
{
    /// <summary>The name of the <see cref="HttpClient"/> peers are reached with.</summary>
    public const string HttpClientName = "gedge-peers";

    /// <summary>The segment field that names the peer a segment ran on.</summary>
    public const string PeerField = "peer";

    // Where a segment waits for Infer, and what the statuses of a job holding such a segment can be (its least advanced).
    private static readonly JobStatus s_waiting = PipelineTopology.Infer.Consumes;
    private static readonly JobStatus[] s_jobStatuses = [JobStatus.Enqueue, JobStatus.Preprocessing, JobStatus.Preprocessing_complete];

    // The name of a spilled segment's upload at the peer: the origin's job and segment, and the attempt (the claim's own).
    [GeneratedRegex(@"^job-(?<job>[0-9]+)-segment-(?<segment>[0-9]+)-(?<attempt>[0-9a-f]{12})\.mp4$", RegexOptions.CultureInvariant)]
    private static partial Regex SpilledUpload();

    private readonly ConcurrentDictionary<(long Job, int Segment), Task> _away = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _leftOut = new(StringComparer.Ordinal);

    /// <summary>Segments at a peer now.</summary>
    public int Away => _away.Count;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.Edges.Count == 0)
        {
            return;
        }

        var peers = string.Join(", ", settings.Edges.Select(e => $"{e.Name} ({e.Gateway})"));
        LogPeers(logger, peers, settings.SpillAfter.TotalSeconds);
        using var timer = new PeriodicTimer(settings.Interval, time);
        var reconciled = DateTimeOffset.MinValue;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await SpillWaitingAsync(settings, stoppingToken).ConfigureAwait(false);
                    if (time.GetUtcNow() - reconciled >= settings.ReconcileInterval)
                    {
                        reconciled = time.GetUtcNow();
                        await ReconcilePeersAsync(settings, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The job table restarting, say: the next tick tries again.
                    LogTickFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }

        // Segments still away keep their leases until the sweeper takes them back; their tasks end with the token.
        await Task.WhenAll(_away.Values).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task SpillWaitingAsync(PeerOptions settings, CancellationToken stoppingToken)
    {
        var now = time.GetUtcNow();
        // Each user's peer, asked once a tick: the peers' capacity is read only when a segment is due to go.
        var chosen = new Dictionary<string, ChosenPeer?>(StringComparer.Ordinal);
        foreach (var status in s_jobStatuses)
        {
            foreach (var job in await jobs.ListByStatusAsync(status, ClusterActivity.MaxJobs).ConfigureAwait(false))
            {
                if (job.Segments is null)
                {
                    continue;
                }

                foreach (var segment in await jobs.GetSegmentsAsync(job.Id).ConfigureAwait(false))
                {
                    if (_away.Count >= settings.MaxSpilled)
                    {
                        return;
                    }

                    if (segment.Status != s_waiting || segment.Since is not { } since || now - since < settings.SpillAfter || _away.ContainsKey((job.Id, segment.Index)))
                    {
                        continue;
                    }

                    if (!chosen.TryGetValue(job.User, out var choice))
                    {
                        chosen[job.User] = choice = await ChoosePeerAsync(settings, job.User, stoppingToken).ConfigureAwait(false);
                    }

                    if (choice is not { } peer)
                    {
                        // No peer takes this user's segments now; another user's may still go.
                        continue;
                    }

                    // The attempt's own name: the upload at the peer carries it, so the job table alone says which of our
                    // jobs at the peer is still wanted (ReconcilePeersAsync).
                    var attempt = Guid.NewGuid().ToString("N")[..12];
                    var worker = $"spill:{peer.Edge.Name}@{Environment.MachineName}/{Environment.ProcessId}/{attempt}";
                    if (!(await jobs.TryClaimSegmentAsync(job.Id, segment.Index, PipelineTopology.Infer.Working, worker, stageOptions.Value.Lease).ConfigureAwait(false)).Moved)
                    {
                        continue;
                    }

                    LogSpilling(logger, job.Id, segment.Index, peer.Edge.Name, (now - since).TotalSeconds);
                    var key = (job.Id, segment.Index);
                    _away[key] = Task.Run(
                        async () =>
                        {
                            try
                            {
                                await SpillAsync(job, segment.Index, peer, worker, attempt, stoppingToken).ConfigureAwait(false);
                            }
                            finally
                            {
                                _away.TryRemove(key, out _);
                            }
                        },
                        CancellationToken.None);
                }
            }
        }
    }

    // The peer with the shortest Infer wait among those with a key for the user, not left out and answering; null if none.
    private async Task<ChosenPeer?> ChoosePeerAsync(PeerOptions settings, string user, CancellationToken cancellationToken)
    {
        ChosenPeer? best = null;
        foreach (var edge in settings.Edges)
        {
            if (!edge.Keys.TryGetValue(user, out var key) || (_leftOut.TryGetValue(edge.Name, out var until) && until > time.GetUtcNow()))
            {
                continue;
            }

            var client = new GatewayClient(Http(edge), key);
            try
            {
                using var asking = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                asking.CancelAfter(TimeSpan.FromSeconds(5));
                var wait = (await client.GetCapacityAsync(asking.Token).ConfigureAwait(false)).For(PipelineTopology.Infer).WaitEstimateSeconds;
                if (wait is { } seconds && (best is null || seconds < best.WaitSeconds))
                {
                    best = new ChosenPeer(edge, client, seconds);
                }
            }
            catch (Exception e) when (e is HttpRequestException or GatewayException or JsonException
                || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                LeaveOut(edge, settings, $"its capacity could not be read: {e.Message}");
            }
        }

        return best;
    }

    private async Task SpillAsync(Job job, int index, ChosenPeer peer, string worker, string attempt, CancellationToken stoppingToken)
    {
        var segment = new JobArtifacts(buckets.Value, job.User, job.Id).Segment(index);
        using var leaseLost = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var renewing = RenewLeaseAsync(job.Id, index, leaseLost);
        long? peerJob = null;
        try
        {
            // The segment's cut piece, as compressed as the upload was; the peer cuts, infers and annotates it as a job.
            var video = await store.StatAsync(segment.Buckets.Work, segment.VideoKey, leaseLost.Token).ConfigureAwait(false)
                ?? throw new InvalidDataException($"Segment {index} of job {job.Id} has no cut video ({segment.VideoKey}).");
            JobView submitted;
            await using (var upload = await store.OpenReadAsync(segment.Buckets.Work, segment.VideoKey, leaseLost.Token).ConfigureAwait(false))
            {
                submitted = await peer.Client.SubmitAsync(
                    upload, video.Size, string.Create(CultureInfo.InvariantCulture, $"job-{job.Id}-segment-{index}-{attempt}.mp4"), leaseLost.Token).ConfigureAwait(false);
            }

            peerJob = long.Parse(submitted.Job[JobFields.Id], CultureInfo.InvariantCulture);
            var done = await peer.Client.WaitForExitAsync(submitted, onStep: null, leaseLost.Token).ConfigureAwait(false);
            if (done.Job.TryGetValue(JobFields.Error, out var error))
            {
                throw new GatewayException($"the peer's job {peerJob} failed: {error}");
            }

            await BringBackAsync(segment, peer, done, leaseLost.Token).ConfigureAwait(false);
            await RecordAsync(job, index, peer, worker, peerJob.Value).ConfigureAwait(false);
            LogSpilled(logger, job.Id, index, peer.Edge.Name, peerJob.Value);
        }
        catch (Exception e) when (e is HttpRequestException or GatewayException or JsonException or InvalidDataException or IOException
            || (e is OperationCanceledException && !stoppingToken.IsCancellationRequested))
        {
            var reason = leaseLost.IsCancellationRequested && !stoppingToken.IsCancellationRequested
                ? "the lease was lost" : e.Message;
            LeaveOut(peer.Edge, options.Value, reason);
            if (!stoppingToken.IsCancellationRequested)
            {
                // Back to waiting for Infer, here or at another peer; the sweeper announces it again.
                await jobs.GiveBackSegmentAsync(job.Id, index, PipelineTopology.Infer.Working, $"the peer {peer.Edge.Name} did not finish it: {reason}").ConfigureAwait(false);
                LogGivenBack(logger, job.Id, index, peer.Edge.Name, reason);
            }
        }
        finally
        {
            await leaseLost.CancelAsync().ConfigureAwait(false);
            await renewing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (peerJob is { } id)
            {
                // At once, rather than at the next reconciliation (which deletes it if this fails).
                await TryForgetAsync(peer.Edge.Name, peer.Client, id).ConfigureAwait(false);
            }
        }
    }

    // The peer's annotated piece and detections, where Postprocess and Infer would have left them: the piece as it is (the
    // join copies pieces' streams), the detections as Infer's lines, one per frame, numbered from the segment's first
    // frame and timed by the frames this edge's Preprocess read (so every segment's times come from one clock).
    private async Task BringBackAsync(SegmentArtifacts segment, ChosenPeer peer, JobView done, CancellationToken cancellationToken)
    {
        var manifest = await FrameArtifacts.ReadManifestAsync(store, segment, cancellationToken).ConfigureAwait(false);
        using var detections = new MemoryStream();
        await peer.Client.CopyResultAsync(done, JobResults.Detections, detections, cancellationToken).ConfigureAwait(false);
        detections.Position = 0;
        using var document = await JsonDocument.ParseAsync(detections, cancellationToken: cancellationToken).ConfigureAwait(false);
        var model = document.RootElement.GetProperty("model").GetString();
        if (model != manifest.Model)
        {
            throw new InvalidDataException($"the peer {peer.Edge.Name} ran the model '{model}', not '{manifest.Model}'");
        }

        var frames = document.RootElement.GetProperty("frames").EnumerateArray()
            .Select(frame => frame.Deserialize(PipelineJsonContext.Default.FrameDetections) ?? throw new InvalidDataException("a null frame in the peer's detections"))
            .ToList();
        if (frames.Count != manifest.FrameCount)
        {
            throw new InvalidDataException($"the peer {peer.Edge.Name} found {frames.Count} frames in segment {segment.Index}, where this edge's Preprocess read {manifest.FrameCount}");
        }

        var times = manifest.Chunks.OrderBy(c => c.FirstFrame).SelectMany(c => c.Timestamps).ToList();
        await store.WriteAsync(segment.Buckets.Work, segment.FrameDetectionsKey, async (output, ct) =>
        {
            await using var json = new Utf8JsonWriter(output);
            for (var i = 0; i < frames.Count; i++)
            {
                JsonSerializer.Serialize(json, new FrameDetections(i, times[i], frames[i].Detections), PipelineJsonContext.Default.FrameDetections);
                await json.FlushAsync(ct).ConfigureAwait(false);
                json.Reset();
                output.WriteByte((byte)'\n');
            }
        }, cancellationToken).ConfigureAwait(false);
        await store.WriteAsync(
            segment.Buckets.Work, segment.AnnotatedVideoKey, (output, ct) => peer.Client.CopyResultAsync(done, JobResults.Video, output, ct), cancellationToken).ConfigureAwait(false);
    }

    // Inferred and postprocessed, by this worker, in the job table's order; the last segment done moves the job to
    // Postprocessing_complete, whose event starts the join, as the last stage would announce it.
    private async Task RecordAsync(Job job, int index, ChosenPeer peer, string worker, long peerJob)
    {
        var ran = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [PeerField] = string.Create(CultureInfo.InvariantCulture, $"{peer.Edge.Name} (job {peerJob})"),
        };
        var infer = PipelineTopology.Infer;
        var postprocess = PipelineTopology.Postprocess;
        if (!(await jobs.TryCompleteSegmentAsync(job.Id, index, infer.Working, worker, ran).ConfigureAwait(false)).Moved
            || !(await jobs.TryClaimSegmentAsync(job.Id, index, postprocess.Working, worker, stageOptions.Value.Lease).ConfigureAwait(false)).Moved)
        {
            throw new InvalidDataException($"segment {index} of job {job.Id} left Inferencing while it was at the peer (cancelled, or taken back)");
        }

        var last = await jobs.TryCompleteSegmentAsync(job.Id, index, postprocess.Working, worker, ran).ConfigureAwait(false);
        if (last.JobMoved)
        {
            var current = await jobs.GetAsync(job.Id).ConfigureAwait(false) ?? job;
            await publisher.PublishAsync(GEdgeEvents.CreateJobStatusChanged(job.Id, postprocess.Completes, current.Iteration, stageOptions.Value.EventSource), CancellationToken.None).ConfigureAwait(false);
        }
    }

    // Keeps the segment's lease while it is away, as a stage renews its own; a renewal refused (the sweeper took the
    // segment back, or the job was cancelled) calls the spill off.
    private Task RenewLeaseAsync(long jobId, int index, CancellationTokenSource leaseLost) =>
        LeaseRenewal.KeepAsync(
            () => jobs.RenewSegmentLeaseAsync(jobId, index, PipelineTopology.Infer.Working, stageOptions.Value.Lease),
            stageOptions.Value.LeaseRenewal,
            time,
            leaseLost,
            lost: () => { },
            unreachable: e => LogRenewalFailed(logger, e, jobId, index),
            leaseLost.Token);

    // Our jobs at each peer (all its jobs of the users we hold its keys for) that no segment here is waiting on: deleted,
    // or cancelled first where they have not ended (deleted at a later reconciliation). A peer that cannot be asked now
    // is asked at the next; an upload named otherwise (a user's own job under the same key) is not ours to touch.
    private async Task ReconcilePeersAsync(PeerOptions settings, CancellationToken stoppingToken)
    {
        foreach (var edge in settings.Edges)
        {
            foreach (var key in edge.Keys.Values.Distinct(StringComparer.Ordinal))
            {
                var client = new GatewayClient(Http(edge), key);
                try
                {
                    using var asking = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    asking.CancelAfter(TimeSpan.FromSeconds(30));
                    var unwanted = new List<long>();
                    // One read of an origin job's segments per pass, however many of its segments the peer holds.
                    var segmentsOf = new Dictionary<long, IReadOnlyList<JobSegment>>();
                    await foreach (var held in client.ListAsync(asking.Token).ConfigureAwait(false))
                    {
                        if (await IsUnwantedAsync(edge.Name, held, segmentsOf).ConfigureAwait(false) is { } peerJob)
                        {
                            unwanted.Add(peerJob);
                        }
                    }

                    foreach (var peerJob in unwanted)
                    {
                        await TryForgetAsync(edge.Name, client, peerJob).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or GatewayException or JsonException
                    || (e is OperationCanceledException && !stoppingToken.IsCancellationRequested))
                {
                    LogNotReconciled(logger, edge.Name, e.Message);
                }
            }
        }
    }

    // The peer's job number if it is one of our spilled segments' that this edge no longer waits on: the segment is not
    // in Inferencing under the attempt the upload is named after (done, taken back, its job cancelled or deleted).
    private async Task<long?> IsUnwantedAsync(string peer, JobView held, Dictionary<long, IReadOnlyList<JobSegment>> segmentsOf)
    {
        if (!held.Job.TryGetValue(JobFields.Path, out var path) || SpilledUpload().Match(Path.GetFileName(path)) is not { Success: true } name
            || !long.TryParse(held.Job[JobFields.Id], NumberStyles.None, CultureInfo.InvariantCulture, out var peerJob))
        {
            return null;
        }

        var jobId = long.Parse(name.Groups["job"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
        var index = int.Parse(name.Groups["segment"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
        var attempt = name.Groups["attempt"].Value;
        if (!segmentsOf.TryGetValue(jobId, out var segments))
        {
            segmentsOf[jobId] = segments = await jobs.GetSegmentsAsync(jobId).ConfigureAwait(false);
        }

        var segment = segments.FirstOrDefault(s => s.Index == index);
        var wanted = segment is { } s && s.Status == PipelineTopology.Infer.Working
            && s.Worker is { } worker && worker.StartsWith($"spill:{peer}@", StringComparison.Ordinal) && worker.EndsWith($"/{attempt}", StringComparison.Ordinal);
        return wanted ? null : peerJob;
    }

    // One request: the job is gone, or cancelled and deleted at a later reconciliation; a peer that cannot be told now is
    // told then.
    private async Task TryForgetAsync(string peer, GatewayClient client, long peerJob)
    {
        try
        {
            using var deleting = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await client.DeleteOnceAsync(peerJob, deleting.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or GatewayException or OperationCanceledException)
        {
            LogNotForgotten(logger, e, peer, peerJob);
        }
    }

    private void LeaveOut(PeerEdge edge, PeerOptions settings, string why)
    {
        _leftOut[edge.Name] = time.GetUtcNow() + settings.PeerBackoff;
        LogLeftOut(logger, edge.Name, settings.PeerBackoff.TotalSeconds, why);
    }

    private HttpClient Http(PeerEdge edge)
    {
        var http = httpClients.CreateClient(HttpClientName);
        http.BaseAddress = edge.Gateway;
        return http;
    }

    private sealed record ChosenPeer(PeerEdge Edge, GatewayClient Client, double WaitSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Segments that wait for Infer longer than {SpillAfter} s go to the peers {Peers}")]
    private static partial void LogPeers(ILogger logger, string peers, double spillAfter);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} segment {Segment} waited {Waited:0.0} s for Infer: it goes to the peer {Peer}")]
    private static partial void LogSpilling(ILogger logger, long jobId, int segment, string peer, double waited);

    [LoggerMessage(Level = LogLevel.Information, Message = "{JobId} segment {Segment} ran on the peer {Peer} (its job {PeerJob}); its results are here")]
    private static partial void LogSpilled(ILogger logger, long jobId, int segment, string peer, long peerJob);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} segment {Segment} is given back: the peer {Peer} did not finish it ({Reason})")]
    private static partial void LogGivenBack(ILogger logger, long jobId, int segment, string peer, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The peer {Peer} is left out for {Seconds} s: {Reason}")]
    private static partial void LogLeftOut(ILogger logger, string peer, double seconds, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The peer {Peer}'s job {PeerJob} could not be deleted there yet; it is tried again")]
    private static partial void LogNotForgotten(ILogger logger, Exception exception, string peer, long peerJob);

    [LoggerMessage(Level = LogLevel.Debug, Message = "What the peer {Peer} holds of ours could not be read ({Reason}); the next reconciliation tries again")]
    private static partial void LogNotReconciled(ILogger logger, string peer, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{JobId} segment {Segment}: its lease could not be renewed while at the peer (the job table out of reach); renewals go on")]
    private static partial void LogRenewalFailed(ILogger logger, Exception exception, long jobId, int segment);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Looking for segments to send to a peer failed; the next tick tries again")]
    private static partial void LogTickFailed(ILogger logger, Exception exception);
}
