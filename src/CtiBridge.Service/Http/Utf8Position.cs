using System.Buffers;
using System.Text.Unicode;

namespace CtiBridge.Service.Http;

/// <summary>
/// Where a request body stops being UTF-8, said as a person looks for it: "line 3, column 17
/// (byte 57)". Bodies are read strictly (a bad byte is an error, never silently replaced by U+FFFD,
/// which would store a mangled name or number as if it had been sent).
/// </summary>
internal static class Utf8Position
{
    /// <summary>Null when <paramref name="bytes"/> is valid UTF-8, else the place of the first invalid byte.</summary>
    public static string? FirstInvalid(ReadOnlySpan<byte> bytes)
    {
        var chars = ArrayPool<char>.Shared.Rent(4096);
        try
        {
            var offset = 0;
            while (offset < bytes.Length)
            {
                var status = Utf8.ToUtf16(bytes[offset..], chars, out var read, out _, replaceInvalidSequences: false, isFinalBlock: true);
                offset += read;
                if (status is OperationStatus.InvalidData or OperationStatus.NeedMoreData)
                {
                    return Describe(bytes, offset);
                }

                if (status == OperationStatus.Done)
                {
                    return null;
                }
            }

            return null;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>"line L, column C (byte N)" of the byte at <paramref name="offset"/> (all counted from 1; the column in bytes).</summary>
    public static string Describe(ReadOnlySpan<byte> bytes, int offset)
    {
        offset = Math.Clamp(offset, 0, bytes.Length);
        var before = bytes[..offset];
        var line = before.Count((byte)'\n') + 1;
        var column = offset - (before.LastIndexOf((byte)'\n') + 1) + 1;
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"line {line}, column {column} (byte {offset + 1})");
    }
}
