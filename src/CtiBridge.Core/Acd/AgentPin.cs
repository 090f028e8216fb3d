using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CtiBridge.Core.Acd;

/// <summary>
/// Agent PIN hashing: PBKDF2-SHA256 with a random salt, stored as
/// <c>pbkdf2-sha256$iterations$salt$hash</c> (base64). PINs are short, so the iteration count
/// is what makes a stolen hash expensive; comparison is constant-time.
/// </summary>
public static class AgentPin
{
    private const string Scheme = "pbkdf2-sha256";

    /// <summary>Default iteration count for new hashes.</summary>
    public const int DefaultIterations = 100_000;

    /// <summary>Hashes a PIN with a fresh random salt.</summary>
    public static string Hash(string pin, int iterations = DefaultIterations)
    {
        ArgumentException.ThrowIfNullOrEmpty(pin);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(pin), salt, iterations, HashAlgorithmName.SHA256, 32);
        return string.Create(CultureInfo.InvariantCulture, $"{Scheme}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>True when <paramref name="pin"/> matches <paramref name="pinHash"/>; false for a malformed hash.</summary>
    public static bool Verify(string pin, string pinHash)
    {
        ArgumentNullException.ThrowIfNull(pin);
        ArgumentNullException.ThrowIfNull(pinHash);
        var parts = pinHash.Split('$');
        if (parts.Length != 4 || parts[0] != Scheme
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations < 1)
        {
            return false;
        }

        byte[] salt, expected;
        try
        {
            salt = Convert.FromBase64String(parts[2]);
            expected = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException)
        {
            return false;
        }

        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(pin), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>True when <paramref name="pinHash"/> has the expected shape (checked at configuration time).</summary>
    public static bool IsWellFormed(string pinHash)
    {
        var parts = pinHash.Split('$');
        return parts.Length == 4 && parts[0] == Scheme && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0;
    }
}
