namespace CtiBridge.Asterisk.Ami;

/// <summary>Where an <see cref="AmiClient"/> is in its connection life.</summary>
public enum AmiConnectionState
{
    /// <summary><see cref="AmiClient.StartAsync"/> has not been called.</summary>
    NotStarted,

    /// <summary>Opening the socket, reading the banner and logging in.</summary>
    Connecting,

    /// <summary>Logged in: actions can be sent and events flow.</summary>
    Connected,

    /// <summary>The connection broke or could not be made; a reconnect is scheduled unless attempts ran out.</summary>
    Disconnected,

    /// <summary>The client was disposed or gave up after <see cref="AmiClientOptions.MaxReconnectAttempts"/>.</summary>
    Stopped,
}

/// <summary>One change of connection state.</summary>
/// <param name="State">The new state.</param>
/// <param name="ConnectionNumber">1 for the first connection attempt, incremented by each attempt.</param>
/// <param name="IsReconnect">True on <see cref="AmiConnectionState.Connected"/> when an earlier connection existed (a "reconnected" signal).</param>
/// <param name="Reason">Why the connection ended (on <see cref="AmiConnectionState.Disconnected"/>), else null.</param>
/// <param name="ProtocolVersion">The banner (e.g. <c>Asterisk Call Manager/11.0.0</c>) once connected.</param>
/// <param name="At">When the change happened, from the client's <see cref="TimeProvider"/>.</param>
/// <param name="NextAttemptIn">On <see cref="AmiConnectionState.Disconnected"/>, the delay before the next attempt (null when none).</param>
public sealed record AmiConnectionStateChange(
    AmiConnectionState State,
    int ConnectionNumber,
    bool IsReconnect,
    Exception? Reason,
    string? ProtocolVersion,
    DateTimeOffset At,
    TimeSpan? NextAttemptIn);

/// <summary>
/// One item of an event subscription: an event, or a resync signal. A resync comes at every
/// login (first one included) before that connection's first event: events from before it may
/// be missing, so the consumer should reload the state it tracks (QueueStatus, CoreShowChannels...).
/// </summary>
public readonly struct AmiEventItem
{
    internal AmiEventItem(AmiMessage? message, AmiResync? resync)
    {
        Event = message;
        Resync = resync;
    }

    /// <summary>The event, or null for a resync signal.</summary>
    public AmiMessage? Event { get; }

    /// <summary>The resync signal, or null for an event.</summary>
    public AmiResync? Resync { get; }

    /// <summary>True when this item is a resync signal rather than an event.</summary>
    public bool IsResync => Resync is not null;
}

/// <summary>The resync signal: a new connection is logged in; events may have been missed before it.</summary>
/// <param name="ConnectionNumber">The connection that just logged in.</param>
/// <param name="IsReconnect">False only for the client's first login.</param>
/// <param name="PreviousDisconnectReason">Why the previous connection ended (null on the first login).</param>
public sealed record AmiResync(int ConnectionNumber, bool IsReconnect, Exception? PreviousDisconnectReason);

/// <summary>The answer to a list action: the response, every item in order, and the closing event.</summary>
/// <param name="Response">The <c>Response:</c> message (an error response has no items).</param>
/// <param name="Items">The events carrying the action's ActionID between the response and the end.</param>
/// <param name="Complete">The closing event (<c>EventList: Complete</c>, e.g. <c>QueueStatusComplete</c>), or null.</param>
public sealed record AmiListResult(AmiMessage Response, IReadOnlyList<AmiMessage> Items, AmiMessage? Complete);
