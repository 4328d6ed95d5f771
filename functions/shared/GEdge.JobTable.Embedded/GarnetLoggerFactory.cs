using Microsoft.Extensions.Logging;

namespace GEdge.JobTable.Embedded;

/// <summary>
/// Hands Garnet loggers from the host's factory, under a "Garnet." category prefix (so the host's log filters can reach
/// them) and at Warning and above: Garnet's information-level output is about its own internals, not the job table.
/// </summary>
internal sealed class GarnetLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) =>
        new MinimumLevelLogger(inner.CreateLogger("Garnet." + categoryName), LogLevel.Warning);

    // The host owns its providers; Garnet has no business adding any.
    public void AddProvider(ILoggerProvider provider)
    {
    }

    // The host owns the inner factory.
    public void Dispose()
    {
    }

    private sealed class MinimumLevelLogger(ILogger inner, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
