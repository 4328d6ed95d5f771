namespace GEdge.JobTable;

/// <summary>A Redis-protocol server hosted by this process; the job table connects to it when no connection string is configured.</summary>
public interface IJobTableServer
{
    /// <summary>The StackExchange.Redis connection string that reaches the server.</summary>
    string ConnectionString { get; }
}
