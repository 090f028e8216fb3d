using System.Buffers.Binary;
using System.Text;

namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// A small direct-mapped cache from ASCII bytes to strings, owned by one parser (not thread-safe).
/// Header names and short recurring values (<c>Success</c>, <c>all</c>, <c>0</c>, state names)
/// repeat in nearly every message, so most of them cost a hash and a compare instead of a string.
/// </summary>
internal sealed class AmiStringCache(int slots, int maxCachedLength)
{
    private readonly string?[] _slots = new string?[slots];
    private readonly int _mask = slots - 1;

    public string Get(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return string.Empty;
        }

        if (bytes.Length > maxCachedLength)
        {
            return Encoding.UTF8.GetString(bytes);
        }

        var hash = Hash(bytes);
        ref var slot = ref _slots[hash & _mask];
        var cached = slot;
        if (cached is not null && cached.Length == bytes.Length && Ascii.Equals(bytes, cached))
        {
            return cached;
        }

        var text = Encoding.UTF8.GetString(bytes);
        // Only pure-ASCII strings are cached, so the byte/char compare above is exact.
        if (text.Length == bytes.Length)
        {
            slot = text;
        }

        return text;
    }

    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        // O(1): the first and last 8 bytes and the length. Header names and recurring values
        // (channel names, uniqueids) differ at one end or the other; a collision only costs a miss.
        ulong mixed;
        if (bytes.Length >= 8)
        {
            mixed = BinaryPrimitives.ReadUInt64LittleEndian(bytes) ^
                    (BinaryPrimitives.ReadUInt64LittleEndian(bytes[^8..]) * 0xC2B2AE3D27D4EB4FUL);
        }
        else
        {
            mixed = 0;
            foreach (var b in bytes)
            {
                mixed = (mixed << 8) | b;
            }
        }

        mixed = (mixed ^ (ulong)bytes.Length) * 0x9E3779B97F4A7C15UL;
        return (int)(mixed >> 40);
    }
}
