using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace GEdge.Testing;

/// <summary>What the tests read from a <see cref="FakeLogCollector"/> beyond its records.</summary>
public static class FakeLogs
{
    /// <summary>The warnings and errors, one line each with the exception, to show when a test fails.</summary>
    public static string Problems(this FakeLogCollector collector)
    {
        ArgumentNullException.ThrowIfNull(collector);
        return string.Join(
            Environment.NewLine,
            collector.GetSnapshot().Where(e => e.Level >= LogLevel.Warning).Select(e => $"{e.Level} {e.Category}: {e.Message} {e.Exception}"));
    }
}
