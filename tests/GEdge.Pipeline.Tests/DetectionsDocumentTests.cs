using System.Text;
using System.Text.Json;
using GEdge.Artifacts;
using GEdge.Postprocess;
using GEdge.Stages;
using GEdge.Vision;

namespace GEdge.Pipeline.Tests;

public sealed class DetectionsDocumentTests
{
    [Fact]
    public async Task Serialize_WritesTheShapeTheDashboardReads()
    {
        var document = new DetectionsDocument(7, "yolox_nano", new VideoFacts(320, 240, 25, 2), Frames());
        using var stream = new MemoryStream();

        await JsonSerializer.SerializeAsync(stream, document, DetectionsJsonContext.Default.DetectionsDocument);

        Assert.Equal(
            """{"jobId":7,"model":"yolox_nano","video":{"width":320,"height":240,"fps":25,"frames":2},"frames":["""
            + """{"index":0,"time":0,"detections":[]},"""
            + """{"index":1,"time":0.04,"detections":[{"label":"car","classId":2,"score":0.5,"box":{"x":1,"y":2,"width":30,"height":40}}]}]}""",
            Encoding.UTF8.GetString(stream.ToArray()));
    }

    [Fact]
    public async Task Serialize_ManyDocumentsInOneProcess_EachStreamsItsFrames()
    {
        // A postprocess process writes one document per job; the serializer must not switch to a synchronous fast path
        // for the type after the first few, which cannot write the streamed frames.
        for (var job = 0; job < 50; job++)
        {
            using var stream = new MemoryStream();

            await JsonSerializer.SerializeAsync(stream, new DetectionsDocument(job, "yolox_nano", new VideoFacts(320, 240, 25, 2), Frames()), DetectionsJsonContext.Default.DetectionsDocument);

            Assert.EndsWith("""{"index":1,"time":0.04,"detections":[{"label":"car","classId":2,"score":0.5,"box":{"x":1,"y":2,"width":30,"height":40}}]}]}""", Encoding.UTF8.GetString(stream.ToArray()), StringComparison.Ordinal);
        }
    }

    private static async IAsyncEnumerable<FrameDetections> Frames()
    {
        yield return new FrameDetections(0, 0, []);
        await Task.Yield();
        yield return new FrameDetections(1, 0.04, [new Detection(2, "car", 0.5f, new BoundingBox(1, 2, 30, 40))]);
    }
}
