using GEdge.Jobs;
using Microsoft.Extensions.Time.Testing;

namespace GEdge.Pipeline.Tests;

/// <summary>How a lease is kept while its holder works: renewed on the beat, the work called off when a renewal is refused.</summary>
public sealed class LeaseRenewalTests
{
    private static readonly TimeSpan s_every = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task ARefusedRenewal_SaysSo_AndCallsTheWorkOff()
    {
        var clock = new FakeTimeProvider();
        using var leaseLost = new CancellationTokenSource();
        using var working = new CancellationTokenSource();
        var answers = new Queue<bool>([true, false]);
        var renewals = 0;
        var lost = 0;

        var keeping = LeaseRenewal.KeepAsync(
            () => { renewals++; return Task.FromResult(answers.Dequeue()); }, s_every, clock, leaseLost, () => lost++, _ => throw new InvalidOperationException(), working.Token);
        clock.Advance(s_every);
        Assert.False(leaseLost.IsCancellationRequested);
        clock.Advance(s_every);
        await keeping.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal((2, 1), (renewals, lost));
        Assert.True(leaseLost.IsCancellationRequested);
    }

    [Fact]
    public async Task ARenewalThatFails_IsReported_AndTheRenewalsGoOn_UntilTheWorkEnds()
    {
        var clock = new FakeTimeProvider();
        using var leaseLost = new CancellationTokenSource();
        using var working = new CancellationTokenSource();
        var renewals = 0;
        var failures = new List<Exception>();

        var keeping = LeaseRenewal.KeepAsync(
            () => ++renewals == 1 ? throw new TimeoutException("the job table is out of reach") : Task.FromResult(true),
            s_every, clock, leaseLost, () => throw new InvalidOperationException("not lost"), failures.Add, working.Token);
        for (var i = 1; i <= 3; i++)
        {
            clock.Advance(s_every);
            // Each beat is one renewal: wait for it before the next (a timer holds one missed beat, not two).
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (Volatile.Read(ref renewals) < i)
            {
                Assert.True(DateTime.UtcNow < deadline, $"no renewal {i}");
                await Task.Delay(5);
            }
        }

        await working.CancelAsync();
        await keeping.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(3, renewals);
        Assert.IsType<TimeoutException>(Assert.Single(failures));
        Assert.False(leaseLost.IsCancellationRequested);
    }
}
