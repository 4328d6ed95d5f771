using GEdge.Vision.Onnx;

namespace GEdge.Vision.Tests;

public sealed class InputTensorWriterTests
{
    [Fact]
    public void Write_ForNchw_SplitsInterleavedPixelsIntoPlanesInTheSameChannelOrder()
    {
        var input = new ModelInput("images", 416, 416, TensorLayout.Nchw, ChannelOrder.Bgr, 1f, LetterboxPlacement.TopLeft, 114);
        var frame = PatternFrame(input);
        var tensor = new float[frame.Length];

        InputTensorWriter.Write(frame, tensor, input);

        var plane = 416 * 416;
        for (var i = 0; i < plane; i++)
        {
            if (tensor[i] != frame[3 * i] || tensor[plane + i] != frame[(3 * i) + 1] || tensor[(2 * plane) + i] != frame[(3 * i) + 2])
            {
                Assert.Fail($"Pixel {i}: expected ({frame[3 * i]}, {frame[(3 * i) + 1]}, {frame[(3 * i) + 2]}), got ({tensor[i]}, {tensor[plane + i]}, {tensor[(2 * plane) + i]}).");
            }
        }
    }

    [Fact]
    public void Write_ForNchwWithSizeNotAMultipleOfTheVectorWidth_FillsTheTailToo()
    {
        var input = new ModelInput("images", 7, 3, TensorLayout.Nchw, ChannelOrder.Rgb, 2f, LetterboxPlacement.Center, 0);
        var frame = PatternFrame(input);
        var tensor = new float[frame.Length];

        InputTensorWriter.Write(frame, tensor, input);

        Assert.Equal(2f * frame[(3 * 20) + 2], tensor[(2 * 21) + 20]);
        Assert.Equal(2f * frame[3 * 17], tensor[17]);
    }

    [Fact]
    public void Write_ForNhwc_KeepsOrderAndAppliesScale()
    {
        var input = new ModelInput("input_1:0", 416, 416, TensorLayout.Nhwc, ChannelOrder.Rgb, 1f / 255, LetterboxPlacement.Center, 128);
        var frame = PatternFrame(input);
        var tensor = new float[frame.Length];

        InputTensorWriter.Write(frame, tensor, input);

        for (var i = 0; i < frame.Length; i++)
        {
            if (Math.Abs(tensor[i] - (frame[i] / 255f)) > 1e-6f)
            {
                Assert.Fail($"Element {i}: expected {frame[i] / 255f}, got {tensor[i]}.");
            }
        }
    }

    [Fact]
    public void Write_ForFrameOfWrongSize_SaysFramesMustBeLetterboxed()
    {
        var input = new ModelInput("images", 416, 416, TensorLayout.Nchw, ChannelOrder.Bgr, 1f, LetterboxPlacement.TopLeft, 114);

        var error = Assert.Throws<ArgumentException>(() => InputTensorWriter.Write(new byte[640 * 480 * 3], new float[416 * 416 * 3], input));

        Assert.Contains("must be letterboxed to the model input", error.Message, StringComparison.Ordinal);
    }

    private static byte[] PatternFrame(ModelInput input)
    {
        var frame = new byte[input.FrameByteCount];
        for (var i = 0; i < frame.Length; i++)
        {
            frame[i] = (byte)((i * 7) + (i / 3));
        }

        return frame;
    }
}
