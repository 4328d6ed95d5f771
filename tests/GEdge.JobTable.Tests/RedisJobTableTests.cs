namespace GEdge.JobTable.Tests;

/// <summary>The job-table contract against a real redis-server.</summary>
public sealed class RedisJobTableTests(RedisServerFixture server) : JobTableContract(server), IClassFixture<RedisServerFixture>;
