using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// A small direct-mapped cache from ASCII bytes to strings, owned by one parser (not thread-safe).
/// Header names and short recurring values (<c>Success</c>, <c>all</c>, channel names, uniqueids)
/// repeat in nearly every message, so most of them cost a hash and a compare instead of a string.
/// </summary>
internal sealed class AmiStringCache(int slots, int maxCachedLength)
{
    // The bytes a slot's string was made from, compared with SequenceEqual (memcmp-fast).
    private readonly byte[]?[] _bytes = new byte[]?[slots];
    private readonly string?[] _strings = new string?[slots];
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

        // Two-way: a pair of slots per hash, most recent first, so two hot strings that collide
        // do not evict each other on every message.
        var slot = Hash(bytes) & _mask & ~1;
        var cached = _bytes[slot];
        if (cached is not null && bytes.SequenceEqual(cached))
        {
            return _strings[slot]!;
        }

        cached = _bytes[slot + 1];
        if (cached is not null && bytes.SequenceEqual(cached))
        {
            return _strings[slot + 1]!;
        }

        var text = Encoding.UTF8.GetString(bytes);
        _bytes[slot + 1] = _bytes[slot];
        _strings[slot + 1] = _strings[slot];
        _bytes[slot] = bytes.ToArray();
        _strings[slot] = text;
        return text;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
