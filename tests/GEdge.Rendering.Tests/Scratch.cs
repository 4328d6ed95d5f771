namespace GEdge.Rendering.Tests;

/// <summary>A temp folder owned by one test, deleted with everything in it when the test ends.</summary>
public sealed class Scratch : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("gedge-rendering-tests-");

    public string FullName => _directory.FullName;

    public string PathOf(string name) => Path.Combine(_directory.FullName, name);

    public void Dispose() => _directory.Delete(recursive: true);
}
