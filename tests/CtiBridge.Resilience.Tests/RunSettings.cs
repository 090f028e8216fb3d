using System.Globalization;

namespace CtiBridge.Resilience.Tests;

/// <summary>The shape of a load run (soak, benchmark) read from environment variables, checked the same way for every run.</summary>
internal static class RunSettings
{
    /// <summary>
    /// The whole number in environment variable <paramref name="name"/>, or <paramref name="fallback"/> when it is unset;
    /// anything else than a whole number from <paramref name="min"/> to <paramref name="max"/> is an error naming the variable.
    /// </summary>
    public static int WholeNumber(string name, int fallback, int min, int max)
    {
        var text = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new ArgumentException($"{name} must be a whole number from {min} to {max}, got '{text}'.");
        }

        return value;
    }
}
