namespace GEdge.Testing;

/// <summary>A folder under the temp directory that one test or fixture owns, deleted with everything in it afterwards.</summary>
public sealed class TempFolder : IDisposable
{
    /// <summary>Creates the folder, named <paramref name="prefix"/> and a random suffix so parallel tests never share one.</summary>
    public TempFolder(string prefix = "gedge-tests-")
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
    }

    /// <summary>The folder's full path.</summary>
    public string Path { get; }

    /// <summary>The full path of <paramref name="name"/> inside the folder.</summary>
    public string PathOf(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Deletes the folder and everything in it.</summary>
    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
