using System.Diagnostics;
using GEdge.Events.Broker;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace GEdge.Cli.Cluster;

/// <summary>Runs a function's or the broker's web host until it is told to stop, or until the cluster that started it is gone.</summary>
internal static class ServiceRunner
{
    /// <summary>
    /// Starts the host <paramref name="createApp"/> makes and runs it until <paramref name="stopping"/> fires, the host stops itself, or the
    /// process <paramref name="parentPid"/> exits (a <c>gedge serve</c> that was killed cannot kill its children, so they
    /// watch it). A host that cannot start is reported in one line and exits 1.
    /// </summary>
    public static async Task<int> RunAsync(string name, Func<WebApplication> createApp, int? parentPid, CancellationToken stopping)
    {
        WebApplication app;
        try
        {
            using (StartupTimeline.Activities.StartActivity("host build"))
            {
                app = createApp();
            }

            using var starting = StartupTimeline.Activities.StartActivity("host start");
            await app.StartAsync(stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A setting, a manifest or a taken port is said in one line; anything else keeps its stack for the log.
            var detail = e is OptionsValidationException or KnativeManifestException or IOException ? e.Message : e.ToString();
            await Console.Error.WriteLineAsync($"gedge: the {name} could not start: {detail}").ConfigureAwait(false);
            return 1;
        }

        await using (app.ConfigureAwait(false))
        {
            using var parentGone = new CancellationTokenSource();
            var watching = parentPid is { } pid ? WatchParentAsync(pid, parentGone) : Task.CompletedTask;
            using var either = CancellationTokenSource.CreateLinkedTokenSource(stopping, parentGone.Token);
            await app.WaitForShutdownAsync(either.Token).ConfigureAwait(false);
            await parentGone.CancelAsync().ConfigureAwait(false);
            await watching.ConfigureAwait(false);
        }

        return 0;
    }

    private static async Task WatchParentAsync(int pid, CancellationTokenSource parentGone)
    {
        try
        {
            using var parent = Process.GetProcessById(pid);
            await parent.WaitForExitAsync(parentGone.Token).ConfigureAwait(false);
        }
        catch (ArgumentException)
        {
            // The parent is already gone.
        }
        catch (OperationCanceledException)
        {
            // The host stopped first.
            return;
        }

        await parentGone.CancelAsync().ConfigureAwait(false);
    }
}
