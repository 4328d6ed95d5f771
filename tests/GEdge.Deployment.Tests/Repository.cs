using System.Reflection;

namespace GEdge.Deployment.Tests;

/// <summary>Where the tests find the repository's manifests and the reference schemas beside its clone.</summary>
internal static class Repository
{
    /// <summary>The repository root: the first folder above the test binary that holds GEdge.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The manifests applied with <c>kubectl apply -k knative/</c>.</summary>
    public static string Knative => Path.Combine(Root, "knative");

    /// <summary>
    /// ../shared/schemas relative to the repository root: byte-for-byte copies of the Knative CRDs and func's schema.
    /// A missing folder fails the test that needs it, saying where it was looked for: these tests are the manifests' only
    /// check short of a cluster, so they never skip.
    /// </summary>
    public static string Schemas
    {
        get
        {
            var path = Path.GetFullPath(Path.Combine(Root, "..", "shared", "schemas"));
            return Directory.Exists(path)
                ? path
                : throw new DirectoryNotFoundException(
                    $"The reference schemas are missing: expected {path} (../shared/schemas beside the repository's clone, " +
                    "with knative-serving/, knative-eventing/ and knative-func/).");
        }
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "GEdge.sln")))
            {
                return directory.FullName;
            }
        }

        // Built with --artifacts-path the binary is outside the clone: the build recorded where the clone is.
        var built = typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "RepositoryRoot")?.Value;
        return built is not null && File.Exists(Path.Combine(built, "GEdge.sln"))
            ? built
            : throw new DirectoryNotFoundException($"No GEdge.sln above {AppContext.BaseDirectory} or at {built}.");
    }
}
