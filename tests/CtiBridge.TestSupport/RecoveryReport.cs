using System.Diagnostics;
using System.Globalization;

namespace CtiBridge.TestSupport;

/// <summary>
/// A fault test's measured time to recover (docs/reliability.md, "Time to recover"), written as one
/// Markdown table row to the file named by <see cref="OutputVariable"/> when it is set
/// (<c>scripts/reliability.sh --recovery</c> sets it and prints the rows). The tests never assert on
/// these times: timings belong in benchmarks; the tests assert what was kept. Without the variable
/// nothing is written.
/// </summary>
public static class RecoveryReport
{
    /// <summary>The environment variable naming the file the rows are appended to.</summary>
    public const string OutputVariable = "CTIBRIDGE_RECOVERY_OUT";

    private static readonly Lock Gate = new();

    /// <summary>A duration as the table shows it (<c>1.42 s</c>, <c>0.004 s</c>), or <c>not seen</c> when the moment never came.</summary>
    public static string Seconds(TimeSpan? time) => time switch
    {
        null => "not seen",
        { TotalSeconds: < 0.1 } t => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.000} s"),
        { } t => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.00} s"),
    };

    /// <summary>The time from <paramref name="from"/> to <paramref name="to"/> as <see cref="Seconds"/> shows it.</summary>
    public static string Between(DateTimeOffset from, DateTimeOffset? to) => Seconds(to - from);

    /// <summary>
    /// Checks <paramref name="condition"/> every 10 ms from now and gives the time until it first held,
    /// or null if it did not within <paramref name="within"/> (the watch is bounded; a test starts it at
    /// the moment it measures from and awaits it later).
    /// </summary>
    public static async Task<TimeSpan?> TimeUntilAsync(Func<Task<bool>> condition, TimeSpan within, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < within)
        {
            if (await condition().ConfigureAwait(false))
            {
                return watch.Elapsed;
            }

            await Task.Delay(10, ct).ConfigureAwait(false);
        }

        return null;
    }

    /// <inheritdoc cref="TimeUntilAsync(Func{Task{bool}}, TimeSpan, CancellationToken)"/>
    public static Task<TimeSpan?> TimeUntilAsync(Func<bool> condition, TimeSpan within, CancellationToken ct) =>
        TimeUntilAsync(() => Task.FromResult(condition()), within, ct);

    /// <summary>
    /// The row <c>| fault | time to recover | what was measured | load |</c>, appended to the output file
    /// when <see cref="OutputVariable"/> is set; returned either way (for the test's diagnostic output).
    /// </summary>
    /// <param name="fault">The fault, as the table in docs/reliability.md names it.</param>
    /// <param name="timeToRecover">The time to recover (<see cref="Seconds"/>), or what stands for it.</param>
    /// <param name="measured">What the time runs from and to, and what else the run measured (calls served during the fault).</param>
    public static string Write(string fault, string timeToRecover, string measured)
    {
        var line = $"| {fault} | {timeToRecover} | {measured} | {LoadAverage()} |";
        if (Environment.GetEnvironmentVariable(OutputVariable) is { Length: > 0 } file)
        {
            lock (Gate)
            {
                File.AppendAllText(file, line + Environment.NewLine);
            }
        }

        return line;
    }

    // The 1-minute load average when the row is written (Linux), so a row says the load it ran at.
    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
        catch (UnauthorizedAccessException)
        {
            return "?";
        }
    }
}
