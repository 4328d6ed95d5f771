namespace GEdge.Vision.Tests;

/// <summary>
/// The model-zoo YOLOv4 file is not in the repository, so its decoder is proven on synthetic outputs: known boxes are encoded
/// with the inverse of the reference post-processing into the three output tensors, and must decode back to themselves.
/// </summary>
public sealed class Yolov4DecoderTests
{
    private const int Car = 2;
    private const int Person = 0;
    private const int Bus = 5;

    [Fact]
    public void Manifest_DescribesTheModelZooLayout()
    {
        var manifest = TestAssets.Manifest("yolov4");

        Assert.Equal(DecoderKind.Yolov4, manifest.Decoder.Kind);
        Assert.Equal(new ModelInput("input_1:0", 416, 416, TensorLayout.Nhwc, ChannelOrder.Rgb, 0.003921569f, LetterboxPlacement.Center, 128), manifest.Input);
        Assert.Equal(["Identity:0", "Identity_1:0", "Identity_2:0"], Array.ConvertAll(manifest.Outputs, o => o.Name));
        Assert.Equal([1.2f, 1.1f, 1.05f], manifest.Decoder.XyScale);
        Assert.Equal([142f, 110, 192, 243, 459, 401], manifest.Decoder.Anchors[2]);
    }

    [Fact]
    public void VerifyModelFile_WhenTheFileIsAbsent_SaysWhereToGetItAndItsChecksum()
    {
        var manifest = TestAssets.Manifest("yolov4");

        var error = Assert.Throws<ModelException>(manifest.VerifyModelFile);

        Assert.StartsWith(
            "models/yolov4.onnx is missing: download it from https://github.com/onnx/models/raw/main/validated/vision/object_detection_segmentation/yolov4/model/yolov4.onnx and place it there",
            error.Message,
            StringComparison.Ordinal);
        Assert.Contains("sha256 1881fe9c506c970d7866cb4bfc33bda791ce46951a3c39c45ace2ff2b9daf369", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_OfEncodedBoxes_GivesBackTheBoxesInInputPixels()
    {
        var manifest = TestAssets.Manifest("yolov4");
        var head = DetectionDecoder.CreateHead(manifest.Decoder, manifest.Input);
        DetectionCandidate[] expected =
        [
            new(Person, 0.9f, BoundingBox.FromCenter(100.5f, 200.25f, 20, 45)),      // stride 8, anchor 19x36
            new(Car, 0.8f, BoundingBox.FromCenter(250, 150, 80, 60)),                // stride 16, anchor 76x55
            new(Bus, 0.7f, BoundingBox.FromCenter(208, 300, 300, 200)),              // stride 32, anchor 192x243
        ];
        var outputs = Encode(manifest, expected, [(0, 1), (1, 1), (2, 1)]);
        var candidates = new List<DetectionCandidate>();

        for (var i = 0; i < outputs.Length; i++)
        {
            head.Decode(i, outputs[i], manifest.ScoreThreshold, candidates);
        }

        Assert.Equal(expected.Length, candidates.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].ClassId, candidates[i].ClassId);
            Assert.Equal(expected[i].Score, candidates[i].Score, 5);
            YoloxDecoderTests.AssertClose(expected[i].Box, candidates[i].Box, 1e-2f);
        }
    }

    [Fact]
    public void Decode_ThroughCenteredLetterbox_GivesBackTheBoxesInOriginalPixels()
    {
        var manifest = TestAssets.Manifest("yolov4");
        var decoder = new DetectionDecoder(
            DetectionDecoder.CreateHead(manifest.Decoder, manifest.Input), new ClassLabels(ClassLabels.Load(manifest.LabelsPath).Names), manifest.ScoreThreshold, manifest.NmsIouThreshold);

        // A 1280x720 frame centred in 416x416: scaled to 416x234, 91 rows of padding above.
        var letterbox = manifest.Input.LetterboxFor(1280, 720);
        Assert.Equal(new LetterboxTransform(1280, 720, 416, 416, 416, 234, 0, 91), letterbox);
        BoundingBox[] sourceBoxes = [new(100, 300, 150, 90), new(700, 200, 400, 300), new(1000, 500, 60, 150)];
        int[] classes = [Car, Bus, Person];
        var encoded = new DetectionCandidate[sourceBoxes.Length];
        for (var i = 0; i < sourceBoxes.Length; i++)
        {
            encoded[i] = new DetectionCandidate(classes[i], 0.9f - (0.1f * i), letterbox.ToInput(sourceBoxes[i]));
        }

        var outputs = Encode(manifest, encoded, [(1, 1), (2, 1), (0, 2)]);

        var detections = decoder.Decode(Array.ConvertAll(outputs, o => (ReadOnlyMemory<float>)o), letterbox);

        Assert.Equal(["car", "bus", "person"], [.. detections.Select(d => d.Label)]);
        for (var i = 0; i < sourceBoxes.Length; i++)
        {
            YoloxDecoderTests.AssertClose(sourceBoxes[i], detections[i].Box, 0.05f);
        }
    }

    [Fact]
    public void Decode_AppliesSigmoidToOffsetsButUsesScoresAsEmitted()
    {
        var manifest = TestAssets.Manifest("yolov4");
        var head = DetectionDecoder.CreateHead(manifest.Decoder, manifest.Input);
        var outputs = new float[3][];
        for (var i = 0; i < 3; i++)
        {
            outputs[i] = new float[head.OutputLength(i)];
        }

        // Cell (0, 0) of stride 32, anchor 0 (142x110), all offsets 0: sigmoid(0) = 0.5, so centre = (0.5 x 1.05 - 0.025) x 32 = 16.
        var row = outputs[2].AsSpan(0, 85);
        row[4] = 0.5f;
        row[5 + Car] = 0.6f;
        var candidates = new List<DetectionCandidate>();

        head.Decode(2, outputs[2], 0.25f, candidates);

        var candidate = Assert.Single(candidates);
        Assert.Equal(0.3f, candidate.Score);
        YoloxDecoderTests.AssertClose(BoundingBox.FromCenter(16, 16, 142, 110), candidate.Box);
    }

    /// <summary>Writes each box into the (level, anchor) slot given, inverting the reference decode.</summary>
    private static float[][] Encode(ModelManifest manifest, DetectionCandidate[] boxes, (int Level, int Anchor)[] slots)
    {
        var spec = manifest.Decoder;
        var rowLength = 5 + spec.ClassCount;
        var outputs = new float[spec.Strides.Length][];
        for (var level = 0; level < outputs.Length; level++)
        {
            var grid = manifest.Input.Width / spec.Strides[level];
            outputs[level] = new float[grid * grid * 3 * rowLength];
        }

        for (var i = 0; i < boxes.Length; i++)
        {
            var (level, anchor) = slots[i];
            var stride = spec.Strides[level];
            var xyScale = spec.XyScale[level];
            var grid = manifest.Input.Width / stride;
            var box = boxes[i].Box;
            var cx = (box.X + (box.Width / 2)) / stride;
            var cy = (box.Y + (box.Height / 2)) / stride;
            var gx = (int)cx;
            var gy = (int)cy;
            var row = outputs[level].AsSpan((((gy * grid) + gx) * 3 + anchor) * rowLength, rowLength);
            row[0] = Logit((cx - gx + (0.5f * (xyScale - 1))) / xyScale);
            row[1] = Logit((cy - gy + (0.5f * (xyScale - 1))) / xyScale);
            row[2] = MathF.Log(box.Width / spec.Anchors[level][2 * anchor]);
            row[3] = MathF.Log(box.Height / spec.Anchors[level][(2 * anchor) + 1]);
            row[4] = 1f;
            row[5 + boxes[i].ClassId] = boxes[i].Score;
        }

        return outputs;
    }

    private static float Logit(float p) => MathF.Log(p / (1 - p));
}
