namespace GEdge.Vision;

/// <summary>Finds model manifests by name in a <c>models/</c> folder.</summary>
public static class ModelCatalog
{
    /// <summary>The model used when none is named.</summary>
    public const string DefaultModel = "yolox_nano";

    /// <summary>
    /// The models folder: <c>models/</c> next to the application (where the hosts copy it), else the nearest <c>models/</c>
    /// above the application or the working directory (a checkout of the repository).
    /// </summary>
    /// <exception cref="ModelException">No models folder exists in any of those places.</exception>
    public static string FindDirectory()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                var candidate = Path.Combine(directory.FullName, "models");
                if (System.IO.Directory.Exists(candidate) && System.IO.Directory.EnumerateFiles(candidate, "*.json").Any())
                {
                    return candidate;
                }
            }
        }

        throw new ModelException(
            $"No models folder with manifests was found next to {AppContext.BaseDirectory} or above {Environment.CurrentDirectory}: set the models directory explicitly.");
    }

    /// <summary>The names of the manifests in a folder (the file names without <c>.json</c>), sorted.</summary>
    public static IReadOnlyList<string> Names(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!System.IO.Directory.Exists(directory))
        {
            return [];
        }

        var names = new List<string>();
        foreach (var file in System.IO.Directory.EnumerateFiles(directory, "*.json"))
        {
            names.Add(Path.GetFileNameWithoutExtension(file));
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>Loads the manifest <c>NAME.json</c> from a folder (the found one when null).</summary>
    /// <exception cref="ModelException">The name is unknown (the message lists the known ones) or the manifest is invalid.</exception>
    public static ModelManifest Load(string name, string? directory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.AsSpan().IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains("..", StringComparison.Ordinal))
        {
            throw new ModelException($"\"{name}\" is not a model name.");
        }

        directory ??= FindDirectory();
        var path = Path.Combine(directory, name + ".json");
        if (!System.IO.File.Exists(path))
        {
            throw new ModelException($"Unknown model \"{name}\": {directory} has {string.Join(", ", Names(directory))}.");
        }

        return ModelManifest.Load(path);
    }
}
