using GEdge.Vision;
using GEdge.Vision.Onnx;
using Microsoft.Extensions.Logging;

namespace GEdge.Cli.Commands;

/// <summary>What the model commands share: where the models are, the provider option, logging to stderr.</summary>
internal static class CliModels
{
    /// <summary>The <c>models/</c> folder copied next to the binary, else the repository's.</summary>
    public static string Directory()
    {
        var besideBinary = Path.Combine(AppContext.BaseDirectory, "models");
        return System.IO.Directory.Exists(besideBinary) ? besideBinary : ModelCatalog.FindDirectory();
    }

    public static ExecutionProvider ParseProvider(string? value) =>
        string.Equals(value, "cuda", StringComparison.OrdinalIgnoreCase) ? ExecutionProvider.Cuda : ExecutionProvider.Cpu;

    /// <summary>Warnings and errors go to stderr, so <c>--json</c> output on stdout stays machine-readable.</summary>
    public static ILoggerFactory CreateLoggerFactory() => LoggerFactory.Create(logging => logging
        .SetMinimumLevel(LogLevel.Warning)
        .AddSimpleConsole(console => console.SingleLine = true)
        .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace));

    /// <summary>A file of the repository (such as a test clip), looked for above the working directory.</summary>
    public static string? FindRepositoryFile(string relativePath)
    {
        for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, relativePath);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
