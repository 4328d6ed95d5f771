using GEdge.JobTable.Embedded;

namespace GEdge.JobTable.Tests;

/// <summary>What the embedded server does to the process it runs in.</summary>
public sealed class EmbeddedGarnetServerTests : IDisposable
{
    private readonly TempFolder _folder = new("gedge-jobtable-tests-");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Start_KeepsEnoughPoolThreads_ThatGarnetsBlockingWaitsDoNotStallTheProcess()
    {
        // Garnet blocks pool threads (a SAVE waits for its checkpoint on the network thread; disposing the store waits for
        // its size tracker's task), and a starved pool adds a thread only every half second or so: at the machine's
        // default minimum (its core count) a shutdown stalled in a third of `gedge run`s on 2 cores.
        ThreadPool.GetMinThreads(out _, out var completionThreads);
        ThreadPool.SetMinThreads(Environment.ProcessorCount, completionThreads);

        await using var server = EmbeddedGarnetServer.Start(new EmbeddedGarnetOptions { DataPath = _folder.Path });

        ThreadPool.GetMinThreads(out var workerThreads, out _);
        Assert.True(workerThreads >= 16, $"the pool keeps {workerThreads} worker threads at least; the embedded server asks for 16");
    }
}
