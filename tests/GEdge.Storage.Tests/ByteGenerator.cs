using System.Runtime.InteropServices;

namespace GEdge.Storage.Tests;

/// <summary>
/// Deterministic pseudo-random bytes (xorshift64), made on the fly so that a test can stream an object of any size
/// without holding it; incompressible, unlike zeros, so nothing along the way can shrink it.
/// </summary>
public struct ByteGenerator(ulong seed)
{
    private ulong _state = seed | 1;

    public void Fill(Span<byte> destination)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(destination);
        for (var i = 0; i < words.Length; i++)
        {
            words[i] = Next();
        }

        var tail = destination[(words.Length * sizeof(ulong))..];
        for (var i = 0; i < tail.Length; i++)
        {
            tail[i] = (byte)Next();
        }
    }

    private ulong Next()
    {
        _state ^= _state << 13;
        _state ^= _state >> 7;
        _state ^= _state << 17;
        return _state;
    }
}
