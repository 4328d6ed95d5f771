namespace GEdge.Cli.Cluster;

/// <summary>
/// How this very build starts itself again as a child process (serve's functions and broker, the start-up bench's runs):
/// the program's own executable when this process was started as it, otherwise <c>dotnet gedge.dll ARGS</c> with the
/// gedge.dll beside this code, on the dotnet host this process runs on (as <c>./gedge</c> and the tests run it).
/// </summary>
internal static class GedgeCommand
{
    private static readonly string? s_executable =
        Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "gedge" ? path : null;

    /// <summary>The file to start.</summary>
    public static string FileName => s_executable
        ?? (Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet");

    /// <summary>The arguments that run <paramref name="arguments"/> as a gedge command line.</summary>
    public static IReadOnlyList<string> Arguments(params IEnumerable<string> arguments) =>
        s_executable is null ? [Path.Combine(AppContext.BaseDirectory, "gedge.dll"), .. arguments] : [.. arguments];
}
