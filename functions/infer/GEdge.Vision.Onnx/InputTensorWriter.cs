using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using GEdge.Vision;

namespace GEdge.Vision.Onnx;

/// <summary>
/// Turns a model-ready frame (interleaved 8-bit pixels already in the model's size and channel order) into the model's
/// float input: the same order for NHWC, one plane per channel for NCHW, times the manifest's scale. Vectorised.
/// </summary>
public static class InputTensorWriter
{
    // Vector128.Shuffle picks bytes by index and yields 0 for an index >= 16: three shuffles, one per 16-byte block of 16
    // pixels (48 bytes), OR-ed together, gather one channel's 16 bytes. 0xFF marks "not from this block".
    private static readonly Vector128<byte> s_channel0From0 = Vector128.Create((byte)0, 3, 6, 9, 12, 15, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF);
    private static readonly Vector128<byte> s_channel0From1 = Vector128.Create((byte)0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 2, 5, 8, 11, 14, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF);
    private static readonly Vector128<byte> s_channel0From2 = Vector128.Create((byte)0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 4, 7, 10, 13);
    private static readonly Vector128<byte> s_channel1From0 = Vector128.Create((byte)1, 4, 7, 10, 13, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF);
    private static readonly Vector128<byte> s_channel1From1 = Vector128.Create((byte)0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 3, 6, 9, 12, 15, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF);
    private static readonly Vector128<byte> s_channel1From2 = Vector128.Create((byte)0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 2, 5, 8, 11, 14);
    private static readonly Vector128<byte> s_channel2From0 = Vector128.Create((byte)2, 5, 8, 11, 14, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF);
    private static readonly Vector128<byte> s_channel2From1 = Vector128.Create((byte)0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 4, 7, 10, 13, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF);
    private static readonly Vector128<byte> s_channel2From2 = Vector128.Create((byte)0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 3, 6, 9, 12, 15);

    /// <summary>Writes one frame into one image's slice of the input tensor (exactly width x height x 3 floats).</summary>
    /// <exception cref="ArgumentException">The frame or the tensor slice is not the model input's size.</exception>
    public static void Write(ReadOnlySpan<byte> frame, Span<float> tensor, ModelInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var expected = input.FrameByteCount;
        if (frame.Length != expected)
        {
            throw new ArgumentException(
                $"A frame for {input.Width}x{input.Height}x3 has {expected} bytes, not {frame.Length}: frames must be letterboxed to the model input first.",
                nameof(frame));
        }

        if (tensor.Length != expected)
        {
            throw new ArgumentException($"The input tensor slice must hold {expected} floats, not {tensor.Length}.", nameof(tensor));
        }

        if (input.Layout == TensorLayout.Nhwc)
        {
            TensorPrimitives.ConvertTruncating<byte, float>(frame, tensor);
        }
        else
        {
            var planeLength = input.Width * input.Height;
            Deinterleave(frame, tensor[..planeLength], tensor.Slice(planeLength, planeLength), tensor.Slice(2 * planeLength, planeLength));
        }

        if (input.Scale != 1f)
        {
            TensorPrimitives.Multiply(tensor, input.Scale, tensor);
        }
    }

    /// <summary>Splits interleaved 3-channel bytes into three float planes.</summary>
    internal static void Deinterleave(ReadOnlySpan<byte> pixels, Span<float> plane0, Span<float> plane1, Span<float> plane2)
    {
        var count = plane0.Length;
        var i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            ref var source = ref MemoryMarshal.GetReference(pixels);
            ref var target0 = ref MemoryMarshal.GetReference(plane0);
            ref var target1 = ref MemoryMarshal.GetReference(plane1);
            ref var target2 = ref MemoryMarshal.GetReference(plane2);
            for (; i <= count - 16; i += 16)
            {
                var block0 = Vector128.LoadUnsafe(ref source, (nuint)(3 * i));
                var block1 = Vector128.LoadUnsafe(ref source, (nuint)((3 * i) + 16));
                var block2 = Vector128.LoadUnsafe(ref source, (nuint)((3 * i) + 32));
                StoreAsFloats(Gather(block0, block1, block2, s_channel0From0, s_channel0From1, s_channel0From2), ref target0, i);
                StoreAsFloats(Gather(block0, block1, block2, s_channel1From0, s_channel1From1, s_channel1From2), ref target1, i);
                StoreAsFloats(Gather(block0, block1, block2, s_channel2From0, s_channel2From1, s_channel2From2), ref target2, i);
            }
        }

        for (; i < count; i++)
        {
            plane0[i] = pixels[3 * i];
            plane1[i] = pixels[(3 * i) + 1];
            plane2[i] = pixels[(3 * i) + 2];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Gather(
        Vector128<byte> block0, Vector128<byte> block1, Vector128<byte> block2,
        Vector128<byte> from0, Vector128<byte> from1, Vector128<byte> from2) =>
        Vector128.Shuffle(block0, from0) | Vector128.Shuffle(block1, from1) | Vector128.Shuffle(block2, from2);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreAsFloats(Vector128<byte> bytes, ref float target, int offset)
    {
        var (low, high) = Vector128.Widen(bytes);
        var (a, b) = Vector128.Widen(low);
        var (c, d) = Vector128.Widen(high);
        Vector128.ConvertToSingle(a).StoreUnsafe(ref target, (nuint)offset);
        Vector128.ConvertToSingle(b).StoreUnsafe(ref target, (nuint)(offset + 4));
        Vector128.ConvertToSingle(c).StoreUnsafe(ref target, (nuint)(offset + 8));
        Vector128.ConvertToSingle(d).StoreUnsafe(ref target, (nuint)(offset + 12));
    }
}
