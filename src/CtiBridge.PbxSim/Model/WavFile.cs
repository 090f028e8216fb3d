namespace CtiBridge.PbxSim.Model;

/// <summary>Writes recordings as real WAV files: 8 kHz, 16-bit mono PCM silence of the recorded length.</summary>
internal static class WavFile
{
    private const int SampleRate = 8000;

    public static void WriteSilence(string path, TimeSpan length)
    {
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        if (!Path.HasExtension(path))
        {
            path += ".wav";
        }

        var samples = (int)Math.Max(0, length.TotalSeconds * SampleRate);
        var dataBytes = samples * 2;
        using var stream = File.Create(path);
        using var writer = new BinaryWriter(stream);
        writer.Write("RIFF"u8);
        writer.Write(36 + dataBytes);
        writer.Write("WAVE"u8);
        writer.Write("fmt "u8);
        writer.Write(16);
        writer.Write((short)1);
        writer.Write((short)1);
        writer.Write(SampleRate);
        writer.Write(SampleRate * 2);
        writer.Write((short)2);
        writer.Write((short)16);
        writer.Write("data"u8);
        writer.Write(dataBytes);
        writer.Write(new byte[dataBytes]);
    }

    /// <summary>Length of a WAV file written by <see cref="WriteSilence"/>.</summary>
    public static TimeSpan LengthOf(string path)
    {
        var bytes = new FileInfo(path).Length - 44;
        return TimeSpan.FromSeconds(bytes / 2.0 / SampleRate);
    }
}
