namespace GEdge.Vision.Tests;

public sealed class ModelManifestTests
{
    [Fact]
    public void Load_ForYoloxNano_ReadsTheFactsOfTheModel()
    {
        var manifest = TestAssets.Manifest("yolox_nano");

        Assert.Equal("yolox_nano.onnx", manifest.File);
        Assert.Equal(3_660_092, manifest.Size);
        Assert.Equal(new ModelInput("images", 416, 416, TensorLayout.Nchw, ChannelOrder.Bgr, 1f, LetterboxPlacement.TopLeft, 114), manifest.Input);
        Assert.Equal(DecoderKind.Yolox, manifest.Decoder.Kind);
        Assert.Equal([8, 16, 32], manifest.Decoder.Strides);
        Assert.Equal([1, 3549, 85], Assert.Single(manifest.Outputs).Shape);
        Assert.Equal(80, manifest.LoadLabels().Count);
    }

    [Fact]
    public void VerifyModelFile_ForTheCommittedYoloxNano_Passes() => TestAssets.Manifest("yolox_nano").VerifyModelFile();

    [Fact]
    public void VerifyModelFile_WhenTheFileHasOtherBytes_NamesBothChecksums()
    {
        using var folder = new TempFolder("gedge-vision-");
        var models = Directory.CreateDirectory(folder.PathOf("models")).FullName;
        File.Copy(Path.Combine(TestAssets.ModelsDirectory, "yolox_nano.json"), Path.Combine(models, "yolox_nano.json"));
        var bytes = File.ReadAllBytes(Path.Combine(TestAssets.ModelsDirectory, "yolox_nano.onnx"));
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(Path.Combine(models, "yolox_nano.onnx"), bytes);
        var manifest = ModelCatalog.Load("yolox_nano", models);

        var error = Assert.Throws<ModelException>(manifest.VerifyModelFile);

        Assert.StartsWith("models/yolox_nano.onnx has sha256 ", error.Message, StringComparison.Ordinal);
        Assert.Contains("but the manifest expects 695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void VerifyModelFile_WhenTheFileIsShort_SaysItIsIncomplete()
    {
        using var folder = new TempFolder("gedge-vision-");
        File.Copy(Path.Combine(TestAssets.ModelsDirectory, "yolox_nano.json"), folder.PathOf("yolox_nano.json"));
        File.WriteAllBytes(folder.PathOf("yolox_nano.onnx"), new byte[1000]);
        var manifest = ModelManifest.Load(folder.PathOf("yolox_nano.json"));

        var error = Assert.Throws<ModelException>(manifest.VerifyModelFile);

        Assert.Contains("has 1,000 bytes but the manifest expects 3,660,092", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_WhenAFieldIsMissing_NamesTheField()
    {
        using var folder = new TempFolder("gedge-vision-");
        File.WriteAllText(folder.PathOf("broken.json"), """{ "name": "broken", "file": "broken.onnx", "sha256": "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14", "size": 1 }""");

        var error = Assert.Throws<ModelException>(() => ModelManifest.Load(folder.PathOf("broken.json")));

        Assert.EndsWith("\"input\" is missing.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ForAnUnknownName_ListsTheKnownModels()
    {
        var error = Assert.Throws<ModelException>(() => ModelCatalog.Load("yolov9", TestAssets.ModelsDirectory));

        Assert.EndsWith("has yolov4, yolox_nano.", error.Message, StringComparison.Ordinal);
    }
}
