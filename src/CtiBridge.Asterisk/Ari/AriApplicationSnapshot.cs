using CtiBridge.Asterisk.Ari.Models;

namespace CtiBridge.Asterisk.Ari;

/// <summary>What one Stasis application owned at one moment: the basis for resynchronising after an event gap.</summary>
/// <param name="Application">The application as Asterisk describes it (channel, bridge and endpoint ids).</param>
/// <param name="Channels">The application's channels that are still up.</param>
/// <param name="Bridges">The application's bridges that still exist.</param>
/// <param name="TakenAt">When the snapshot was taken (client clock).</param>
public sealed record AriApplicationSnapshot(Application Application, IReadOnlyList<Channel> Channels, IReadOnlyList<Bridge> Bridges, DateTimeOffset TakenAt);
