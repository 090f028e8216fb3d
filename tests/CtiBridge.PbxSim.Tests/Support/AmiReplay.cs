using System.Text.RegularExpressions;

namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>
/// Drives PbxSim with a recording's <c>tx</c> records at their recorded times on a fake clock and
/// checks every <c>rx</c> record against what PbxSim sends, in order.
/// </summary>
internal static partial class AmiReplay
{
    public static readonly DateTimeOffset RecordingStart = new(2026, 11, 22, 16, 38, 58, TimeSpan.Zero);

    [GeneratedRegex(@"Key: ([0-9a-f]{32})")]
    private static partial Regex KeyHeader();

    /// <summary>Replays a scenario message by message, strictly in the recorded order.</summary>
    public static async Task ReplayInOrderAsync(string name, PbxSimulator sim, SignallingTimeProvider clock, CancellationToken cancellationToken)
    {
        var records = AmiFixture.Load(name);
        var start = clock.GetUtcNow();
        await using var connection = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, cancellationToken);
        string? recordedChallenge = null;
        string? actualChallenge = null;
        var dispatched = sim.Progress.Count;
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            var where = $"{name} record {i} (t={record.T})";
            clock.AdvanceTo(start + TimeSpan.FromSeconds(record.T) + TimeSpan.FromMilliseconds(record.Dir == "rx" ? 5 : 0));
            switch (record.Dir)
            {
                case "tx":
                    var tx = record.Data;
                    if (recordedChallenge is not null && actualChallenge is not null && KeyHeader().Match(tx) is { Success: true } key &&
                        key.Groups[1].Value == Md5(recordedChallenge + "ctibridge-secret"))
                    {
                        // The recorded key answers the recorded challenge; answer PbxSim's challenge the same way.
                        tx = tx.Replace(key.Groups[1].Value, Md5(actualChallenge + "ctibridge-secret"), StringComparison.Ordinal);
                    }

                    await connection.SendAsync(tx, cancellationToken);
                    dispatched++;
                    await sim.Progress.WaitForAsync(dispatched, cancellationToken);
                    break;
                case "rx":
                    var actual = i == 0 ? await connection.ReadBannerAsync(cancellationToken) : await connection.ReadMessageAsync(cancellationToken);
                    Assert.True(actual is not null, $"{where}: PbxSim closed the connection; expected {AmiComparison.Show(record.Data)}");
                    AmiComparison.AssertSame(record.Data, actual!, where);
                    if (AmiFixture.Header(record.Data, "Challenge") is { } challenge)
                    {
                        recordedChallenge = challenge;
                        actualChallenge = AmiFixture.Header(actual!, "Challenge");
                    }

                    break;
                case "eof":
                    Assert.True(await connection.IsClosedByServerAsync(cancellationToken), $"{where}: expected PbxSim to close the connection");
                    break;
            }
        }
    }

    private static string Md5(string text) =>
#pragma warning disable CA5351 // AMI's challenge login is MD5 by definition.
        Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
#pragma warning restore CA5351
}
