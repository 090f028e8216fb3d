using System.Text.Json;
using CtiBridge.Asterisk.Ari.Models;

namespace CtiBridge.Asterisk.Ari;

/// <summary>
/// A WebSocket message whose <c>type</c> the API description does not define (a newer Asterisk). It is
/// delivered in order with its full JSON, never dropped.
/// </summary>
public sealed record AriUnknownMessage : Message
{
    /// <summary>The whole message as Asterisk sent it.</summary>
    public required JsonElement Json { get; init; }
}

/// <summary>
/// A WebSocket message that is not valid JSON or does not fit its model (e.g. a required field missing).
/// Delivered in order with the raw text and the reason, so nothing is lost silently.
/// </summary>
public sealed record AriUndecodableMessage : Message
{
    /// <summary>The <see cref="Message.Type"/> used for these messages (the <c>type</c> field, if readable, is in <see cref="Text"/>).</summary>
    public const string TypeName = "CtiBridge.Undecodable";

    /// <summary>The frame's text exactly as received.</summary>
    public required string Text { get; init; }

    /// <summary>What was wrong, and where in the JSON.</summary>
    public required string Error { get; init; }
}

/// <summary>
/// Signals that the events WebSocket was lost and has been reconnected: events Asterisk raised in between
/// are gone (Asterisk does not replay them). Resynchronise, e.g. with
/// <see cref="AriClient.GetApplicationSnapshotAsync"/>. Every event before this item came from the old
/// connection, every one after it from the new one.
/// </summary>
public sealed record AriEventGap : Message
{
    /// <summary>The <see cref="Message.Type"/> of gap signals.</summary>
    public const string TypeName = "CtiBridge.EventGap";

    /// <summary>When the old connection was found lost (client clock).</summary>
    public required DateTimeOffset DisconnectedAt { get; init; }

    /// <summary>When the new connection was established (client clock).</summary>
    public required DateTimeOffset ReconnectedAt { get; init; }

    /// <summary>Why the old connection ended.</summary>
    public required string Reason { get; init; }

    /// <summary>Connect attempts that failed before this one succeeded.</summary>
    public required int FailedAttempts { get; init; }
}
