using Xunit.Abstractions;
using Xunit.Sdk;

namespace GEdge.Cluster.Tests;

/// <summary>
/// Runs a class's tests in the order they are written (their methods' metadata tokens), for a class whose last test ends
/// the fixture's cluster. xunit's own order is unspecified; it has no declaration-order orderer of its own.
/// </summary>
public sealed class DeclarationOrder : ITestCaseOrderer
{
    public const string TypeName = "GEdge.Cluster.Tests." + nameof(DeclarationOrder);

    public const string AssemblyName = "GEdge.Cluster.Tests";

    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase =>
        testCases.OrderBy(testCase => testCase.TestMethod.Method.ToRuntimeMethod().MetadataToken);
}
