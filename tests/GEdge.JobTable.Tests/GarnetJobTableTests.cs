namespace GEdge.JobTable.Tests;

/// <summary>The job-table contract against the embedded, in-process Garnet server.</summary>
public sealed class GarnetJobTableTests(GarnetServerFixture server) : JobTableContract(server), IClassFixture<GarnetServerFixture>;
