namespace GEdge.JobTable.Tests;

/// <summary>A folder of its own for one test or fixture, deleted afterwards.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gedge-jobtable-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose() => Delete(Path);

    /// <summary>Creates a folder for a fixture that cleans up in its own DisposeAsync.</summary>
    public static string CreatePath() => new TempFolder().Path;

    public static void Delete(string path)
    {
        if (Directory.Exists(path))
            Directory.Delete(path, recursive: true);
    }
}
