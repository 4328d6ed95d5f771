using GEdge.Vision;

namespace GEdge.Vision.Tests;

/// <summary>Paths of the committed assets and models the csproj copies next to the test binaries.</summary>
internal static class TestAssets
{
    public static string ModelsDirectory => Path.Combine(AppContext.BaseDirectory, "models");

    public static string Image(string name) => Existing(Path.Combine(AppContext.BaseDirectory, "assets", "images", name));

    public static string Video(string name) => Existing(Path.Combine(AppContext.BaseDirectory, "assets", "videos", name));

    public static ModelManifest Manifest(string name) => ModelCatalog.Load(name, ModelsDirectory);

    private static string Existing(string path) =>
        File.Exists(path) ? path : throw new FileNotFoundException($"Test asset {path} is missing: it should be copied from tests/assets by the csproj.", path);
}
