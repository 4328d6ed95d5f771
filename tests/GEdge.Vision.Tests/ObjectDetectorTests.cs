using GEdge.Media;
using GEdge.Vision.Onnx;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace GEdge.Vision.Tests;

/// <summary>One yolox_nano session for the class, as the Infer function has one per process.</summary>
public sealed class YoloxNanoFixture : IDisposable
{
    public YoloxNanoFixture()
    {
        Detector = new ObjectDetector(TestAssets.Manifest("yolox_nano"));
    }

    public ObjectDetector Detector { get; }

    public void Dispose() => Detector.Dispose();
}

/// <summary>
/// The real model on real images, through the real path (ffmpeg letterbox, tensor fill, ONNX Runtime, decode, NMS).
/// Reference boxes were read off the images: candidate rectangles were drawn over each picture with ffmpeg's drawbox filter
/// and their edges moved until they hugged the object's visible extent (ears to tail, wheel to roof, head to feet). For
/// dog.jpg they agree within a few pixels with darknet's published boxes for that image.
/// </summary>
public sealed class ObjectDetectorTests(YoloxNanoFixture fixture) : IClassFixture<YoloxNanoFixture>
{
    private const float MinimumIou = 0.5f;

    [Fact]
    public async Task IntraOpSpinning_IsOffUnlessAsked_AndChangesNoDetection()
    {
        // ONNX Runtime spins its intra-op threads by default; Infer shares its cores, so it asks for them not to.
        Assert.Equal("0", OnnxSessionFactory.ConfigEntries(new ObjectDetectorOptions())["session.intra_op.allow_spinning"]);
        Assert.Equal("1", OnnxSessionFactory.ConfigEntries(new ObjectDetectorOptions { IntraOpSpinning = true })["session.intra_op.allow_spinning"]);

        // The entry is one ONNX Runtime takes, and it changes how the threads wait, not what the model finds.
        var manifest = TestAssets.Manifest("yolox_nano");
        using var spinning = new ObjectDetector(manifest, new ObjectDetectorOptions { IntraOpSpinning = true });
        using var sleeping = new ObjectDetector(manifest, new ObjectDetectorOptions());
        var expected = await DetectInImageAsync(spinning, "dog.jpg");
        Assert.NotEmpty(expected);
        Assert.Equal(expected, await DetectInImageAsync(sleeping, "dog.jpg"));
    }

    [Fact]
    public async Task Detect_OnDogImage_FindsTheDogTheBicycleAndTheTruck()
    {
        var detections = await DetectInImageAsync(fixture.Detector, "dog.jpg");

        AssertFound(detections, ["dog"], BoundingBox.FromCorners(132, 222, 310, 540));
        AssertFound(detections, ["bicycle"], BoundingBox.FromCorners(124, 132, 568, 420));
        AssertFound(detections, ["truck", "car"], BoundingBox.FromCorners(466, 80, 690, 170));

        // What covers the dog best, scoring highest, is called a dog (yolox_nano also offers "cat" there, with less confidence).
        var best = BestAt(detections, BoundingBox.FromCorners(132, 222, 310, 540));
        Assert.Equal("dog", best.Label);
    }

    [Fact]
    public async Task Detect_OnStreetImage_FindsTheCarsThePeopleAndTheBus()
    {
        var detections = await DetectInImageAsync(fixture.Detector, "street.jpg");

        AssertFound(detections, ["car"], new BoundingBox(280, 378, 185, 68));   // silver sedan crossing, left
        AssertFound(detections, ["car"], new BoundingBox(888, 390, 195, 68));   // taxi crossing, right
        AssertFound(detections, ["car"], new BoundingBox(6, 412, 133, 84));     // minivan, left edge
        AssertFound(detections, ["car"], new BoundingBox(505, 287, 58, 64));    // sedan in the far lane
        AssertFound(detections, ["car", "truck"], new BoundingBox(584, 580, 156, 182)); // SUV seen from behind, bottom
        AssertFound(detections, ["person"], new BoundingBox(872, 492, 40, 94)); // pedestrian crossing, right
        AssertFound(detections, ["person"], new BoundingBox(616, 322, 21, 56)); // pedestrian in the middle distance
        AssertFound(detections, ["bus"], new BoundingBox(2, 484, 297, 367));    // articulated bus, bottom left
    }

    [Fact]
    public async Task Detect_OnCrosswalkImage_FindsThePeopleCrossingAndTheTrafficLight()
    {
        var detections = await DetectInImageAsync(fixture.Detector, "crosswalk.jpg");

        BoundingBox[] people =
        [
            BoundingBox.FromCorners(150, 200, 330, 640),    // man with glasses, left
            BoundingBox.FromCorners(305, 285, 397, 615),    // long-haired man behind him
            BoundingBox.FromCorners(488, 275, 605, 690),    // woman in the grey hoodie
            BoundingBox.FromCorners(598, 250, 688, 610),    // man in black behind her
            BoundingBox.FromCorners(650, 250, 785, 615),    // man in the white polo
            BoundingBox.FromCorners(775, 265, 900, 615),    // woman in the leather jacket
            BoundingBox.FromCorners(912, 295, 1000, 582),   // woman behind, right of centre
            BoundingBox.FromCorners(1022, 295, 1162, 672),  // older woman in the grey hoodie
            BoundingBox.FromCorners(1192, 260, 1278, 632),  // man at the right edge
        ];
        var matched = new HashSet<Detection>(ReferenceEqualityComparer.Instance);
        foreach (var person in people)
        {
            Assert.True(matched.Add(AssertFound(detections, ["person"], person)), $"Two people matched the same detection at {person}.");
        }

        AssertFound(detections, ["traffic light"], BoundingBox.FromCorners(676, 105, 710, 242));
    }

    [Fact]
    public async Task Detect_WithHigherScoreThreshold_KeepsOnlyDetectionsAboveIt()
    {
        var all = await DetectInImageAsync(fixture.Detector, "street.jpg", scoreThreshold: 0.3f);
        var confident = await DetectInImageAsync(fixture.Detector, "street.jpg", scoreThreshold: 0.6f);

        Assert.All(confident, d => Assert.True(d.Score >= 0.6f, $"{d} is below 0.6."));
        Assert.Equal(all.Count(d => d.Score >= 0.6f), confident.Count);
        Assert.True(confident.Count < all.Count);
    }

    [Fact]
    public async Task DetectBatch_GivesTheSameResultsAsOneFrameAtATime()
    {
        var frames = new List<LetterboxedFrame>();
        foreach (var image in new[] { "dog.jpg", "street.jpg", "crosswalk.jpg" })
        {
            frames.Add(await ReadSingleFrameAsync(fixture.Detector.Input, TestAssets.Image(image)));
        }

        try
        {
            var batch = fixture.Detector.DetectBatch(frames.ConvertAll(f => f.Pixels), frames.ConvertAll(f => f.Letterbox));

            Assert.Equal(1, fixture.Detector.MaxBatchSize);
            Assert.Equal(3, batch.Count);
            for (var i = 0; i < frames.Count; i++)
            {
                Assert.Equal(fixture.Detector.Detect(frames[i].Span, frames[i].Letterbox), batch[i]);
            }
        }
        finally
        {
            frames.ForEach(f => f.Dispose());
        }
    }

    [Fact]
    public async Task Detect_FromSeveralThreadsAtOnce_GivesEachTheSameResult()
    {
        using var frame = await ReadSingleFrameAsync(fixture.Detector.Input, TestAssets.Image("dog.jpg"));
        var pixels = frame.Pixels;
        var expected = fixture.Detector.Detect(pixels.Span, frame.Letterbox);

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => fixture.Detector.Detect(pixels.Span, frame.Letterbox))));

        Assert.All(results, result => Assert.Equal(expected, result));
    }

    [Fact]
    public async Task Create_WhenCudaIsRequestedWithoutCuda_LogsTheFallbackAndStillDetects()
    {
        var logger = new FakeLogger<ObjectDetector>();

        using var detector = new ObjectDetector(
            TestAssets.Manifest("yolox_nano"), new ObjectDetectorOptions { ExecutionProvider = ExecutionProvider.Cuda }, logger);

        if (detector.ExecutionProvider == ExecutionProvider.Cpu)
        {
            // No usable CUDA here (the CI machines have no GPU): the session fell back and the warning says why.
            var warning = Assert.Single(logger.Collector.GetSnapshot(), e => e.Level == LogLevel.Warning);
            Assert.StartsWith("CUDA execution provider requested (device 0) but it cannot be used: ", warning.Message, StringComparison.Ordinal);
            Assert.EndsWith(". Falling back to the CPU execution provider.", warning.Message, StringComparison.Ordinal);
        }
        else
        {
            // On a node where CUDA loads there is nothing to fall back from, and nothing to warn about.
            Assert.DoesNotContain(logger.Collector.GetSnapshot(), e => e.Level == LogLevel.Warning);
        }

        var detections = await DetectInImageAsync(detector, "dog.jpg");
        AssertFound(detections, ["dog"], BoundingBox.FromCorners(132, 222, 310, 540));
    }

    [Fact]
    public async Task ASessionCache_KeepsTheOptimizedModel_TheNextSessionLoadsIt_AndADamagedOneIsMadeAgain_AllDetectingTheSame()
    {
        using var cache = new GEdge.Testing.TempFolder();
        var manifest = TestAssets.Manifest("yolox_nano");
        var options = new ObjectDetectorOptions { SessionCache = cache.Path };
        var cached = OnnxSessionFactory.CachedModelPath(cache.Path, manifest.Sha256, ExecutionProvider.Cpu);
        var expected = await DetectInImageAsync(fixture.Detector, "dog.jpg");

        using (var first = new ObjectDetector(manifest, options))
        {
            Assert.Equal(expected, await DetectInImageAsync(first, "dog.jpg"));
        }

        // The first session wrote the model as ONNX Runtime optimized it, and nothing else; the next loads it.
        Assert.Equal([cached], Directory.GetFiles(cache.Path));
        var written = File.GetLastWriteTimeUtc(cached);
        using (var second = new ObjectDetector(manifest, options))
        {
            Assert.Equal(expected, await DetectInImageAsync(second, "dog.jpg"));
        }

        Assert.Equal(written, File.GetLastWriteTimeUtc(cached));

        // A file cut short is not used: the model is optimized again, and the file replaced.
        await File.WriteAllBytesAsync(cached, (await File.ReadAllBytesAsync(cached))[..1000]);
        var logger = new FakeLogger<ObjectDetector>();
        using (var third = new ObjectDetector(manifest, options, logger))
        {
            Assert.Equal(expected, await DetectInImageAsync(third, "dog.jpg"));
        }

        Assert.StartsWith($"The optimized model {cached} could not be loaded (", Assert.Single(logger.Collector.GetSnapshot(), e => e.Level == LogLevel.Warning).Message, StringComparison.Ordinal);
        Assert.True(new FileInfo(cached).Length > 1000);
        Assert.Equal([cached], Directory.GetFiles(cache.Path));
    }

    [Fact]
    public void Detect_ForFrameOfWrongSize_SaysFramesMustBeLetterboxed()
    {
        var error = Assert.Throws<ArgumentException>(
            () => fixture.Detector.Detect(new byte[640 * 480 * 3], LetterboxTransform.Create(640, 480, 416, 416, LetterboxPlacement.TopLeft)));

        Assert.Contains("must be letterboxed to the model input", error.Message, StringComparison.Ordinal);
    }

    private static async Task<IReadOnlyList<Detection>> DetectInImageAsync(ObjectDetector detector, string image, float? scoreThreshold = null)
    {
        using var frame = await ReadSingleFrameAsync(detector.Input, TestAssets.Image(image));
        return detector.Detect(frame.Span, frame.Letterbox, scoreThreshold);
    }

    private static async Task<LetterboxedFrame> ReadSingleFrameAsync(ModelInput input, string path)
    {
        var info = await VideoProbe.ProbeAsync(path);
        LetterboxedFrame? only = null;
        await foreach (var frame in new LetterboxFrameReader(input).ReadAsync(info))
        {
            Assert.Null(only);
            only = frame;
        }

        return only ?? throw new InvalidOperationException($"{path} gave no frame.");
    }

    private static Detection AssertFound(IReadOnlyList<Detection> detections, string[] labels, BoundingBox reference)
    {
        Detection? best = null;
        var bestIou = 0f;
        foreach (var detection in detections)
        {
            var iou = detection.Box.IntersectionOverUnion(reference);
            if (Array.IndexOf(labels, detection.Label) >= 0 && iou > bestIou)
            {
                (best, bestIou) = (detection, iou);
            }
        }

        Assert.True(
            best is not null && bestIou >= MinimumIou,
            $"No {string.Join("/", labels)} with IoU >= {MinimumIou} at {reference}; best IoU {bestIou:0.00}. Detections: {string.Join("; ", detections)}");
        return best!;
    }

    private static Detection BestAt(IReadOnlyList<Detection> detections, BoundingBox reference)
    {
        Detection? best = null;
        foreach (var detection in detections)
        {
            if (detection.Box.IntersectionOverUnion(reference) >= MinimumIou && (best is null || detection.Score > best.Score))
            {
                best = detection;
            }
        }

        return best ?? throw new InvalidOperationException($"Nothing at {reference}.");
    }
}
