using System.Net.Security;
using System.Text;

namespace CtiBridge.Asterisk.Ami;

/// <summary>How the client proves who it is at login.</summary>
public enum AmiAuthentication
{
    /// <summary><c>Challenge</c> (AuthType MD5), then <c>Login</c> with <c>Key</c> = md5(challenge + secret): the secret never crosses the wire.</summary>
    Md5,

    /// <summary><c>Login</c> with the plaintext <c>Secret</c> (use with TLS or on a trusted host only).</summary>
    Plain,
}

/// <summary>
/// Settings of an <see cref="AmiClient"/>. Every property has a documented default; call
/// <see cref="Validate"/> (the client does) to get every problem listed at once.
/// </summary>
public sealed record AmiClientOptions
{
    /// <summary>Asterisk host name or address. Default <c>127.0.0.1</c>.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>AMI TCP port (<c>manager.conf</c> <c>port</c>, or <c>tlsbindport</c> with TLS). Default 5038.</summary>
    public int Port { get; init; } = 5038;

    /// <summary>The <c>manager.conf</c> user. Required.</summary>
    public string Username { get; init; } = "";

    /// <summary>The user's secret. Required. Never logged, never in exception messages or <see cref="ToString"/>.</summary>
    public string Secret { get; init; } = "";

    /// <summary>Login method. Default <see cref="AmiAuthentication.Md5"/>.</summary>
    public AmiAuthentication Authentication { get; init; } = AmiAuthentication.Md5;

    /// <summary>
    /// The login's <c>Events</c> header: <c>on</c>, <c>off</c>, or a class list such as
    /// <c>call,agent,user</c>. Default <c>on</c>. Responses and list items arrive either way.
    /// </summary>
    public string Events { get; init; } = "on";

    /// <summary>TLS settings (Asterisk's <c>tlsbindport</c>); null (the default) is plain TCP.
    /// <see cref="SslClientAuthenticationOptions.TargetHost"/> defaults to <see cref="Host"/>.</summary>
    public SslClientAuthenticationOptions? Tls { get; init; }

    /// <summary>Time allowed for TCP connect, TLS, banner and login together. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Default time for an action's complete answer, counted from when it is written. Default 10 s.</summary>
    public TimeSpan ActionTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Interval of the keep-alive <c>Ping</c>; <see cref="TimeSpan.Zero"/> turns it off. Default 20 s.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>A keep-alive <c>Ping</c> not answered within this time breaks the connection. Default 5 s.</summary>
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long <see cref="AmiClient.DisposeAsync"/> waits for Asterisk's <c>Goodbye</c> after sending
    /// <c>Logoff</c>, so Asterisk logs a clean log-off instead of a lost connection. Measured on the
    /// system clock (disposal stays prompt even when a test's fake clock stands still).
    /// <see cref="TimeSpan.Zero"/> closes without Logoff. Default 1 s.
    /// </summary>
    public TimeSpan LogoffTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>First reconnect delay; it doubles after each failed attempt. Default 500 ms.</summary>
    public TimeSpan ReconnectDelayMin { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Largest reconnect delay (before jitter). Default 30 s.</summary>
    public TimeSpan ReconnectDelayMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Random spread applied to each delay, as a fraction (0.2 = ±20 %). Default 0.2.</summary>
    public double ReconnectJitter { get; init; } = 0.2;

    /// <summary>Failed attempts in a row after which the client stops; -1 (the default) retries forever.</summary>
    public int MaxReconnectAttempts { get; init; } = -1;

    /// <summary>Smallest wait after Asterisk refused the login, so a wrong secret never loops fast. Default 30 s.</summary>
    public TimeSpan LoginFailureRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Unread events one subscription may hold. Past it the client breaks the connection,
    /// reconnects and signals a resync, instead of dropping events or growing memory. Default 200 000.
    /// </summary>
    public int EventBacklogLimit { get; init; } = 200_000;

    /// <summary>
    /// Memory, in bytes, the unread events of one subscription may hold (their header bytes plus
    /// per-event overhead, approximately). Past it the client breaks the connection, reconnects and
    /// signals a resync, as for <see cref="EventBacklogLimit"/>, whichever is reached first; this
    /// one bounds memory whatever the size of the events. Default 64 MiB.
    /// </summary>
    public long EventBacklogByteLimit { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// How far, in bytes of events not yet taken by a subscription's consumer, the socket reader may
    /// run ahead before it pauses to let the consumer catch up. When the reader and the consumer
    /// share a core, an unchecked reader parses a burst far ahead of the consumer, and every event
    /// in that lead survives a garbage collection and is promoted, so memory grows with the burst;
    /// the pause keeps the lead (and the process's memory) small and flat. The reader never pauses
    /// while an action is pending (a consumer may be awaiting its response), nor for longer than
    /// <see cref="ReaderLeadWait"/>. 0 turns the pause off. Default 1 MiB (≈ 2 000 typical events): on the quiet 2-core benchmark
    /// it keeps the million-event burst at 80 MB with 67 % of the header-split ceiling (256 KiB: 77 MB but 59-64 %).
    /// </summary>
    public int ReaderLead { get; init; } = 1024 * 1024;

    /// <summary>
    /// Longest pause of the socket reader for a consumer that is behind by <see cref="ReaderLead"/>.
    /// After it the reader reads on (events then queue up to <see cref="EventBacklogLimit"/>) until
    /// that consumer next takes a batch: a consumer blocked in a slow handler must not hold back the
    /// socket, or Asterisk's own write timeout (writetimeout, 100 ms by default) would end the
    /// session. Default 50 ms.
    /// </summary>
    public TimeSpan ReaderLeadWait { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Actions queued for the writer before <see cref="AmiClient.SendAsync"/> waits. Default 4 096.</summary>
    public int WriteQueueCapacity { get; init; } = 4096;

    /// <summary>Longest line accepted from Asterisk, in bytes; longer is a protocol error. Default 64 KiB.</summary>
    public int MaxLineLength { get; init; } = AmiFrameParser.DefaultMaxLineLength;

    /// <summary>Longest message accepted from Asterisk, in bytes. Default 16 MiB.</summary>
    public int MaxMessageLength { get; init; } = AmiFrameParser.DefaultMaxMessageLength;

    /// <summary>Socket receive buffer handed to the pipe, in bytes. Default 64 KiB.</summary>
    public int ReceiveBufferSize { get; init; } = 64 * 1024;

    /// <summary>Every problem with these settings; empty when they are usable.</summary>
    public IReadOnlyList<string> GetValidationErrors()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Host))
        {
            errors.Add("Host is required.");
        }

        if (Port is < 1 or > 65535)
        {
            errors.Add($"Port must be 1-65535 (was {Port}).");
        }

        if (string.IsNullOrWhiteSpace(Username))
        {
            errors.Add("Username is required.");
        }

        if (string.IsNullOrEmpty(Secret))
        {
            errors.Add("Secret is required.");
        }

        if (string.IsNullOrWhiteSpace(Events) || Events.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            errors.Add("Events must be 'on', 'off' or a class list such as 'call,agent'.");
        }

        if (Username.AsSpan().IndexOfAny('\r', '\n') >= 0 || Secret.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            errors.Add("Username and Secret cannot contain CR or LF.");
        }

        Positive(ConnectTimeout, nameof(ConnectTimeout));
        Positive(ActionTimeout, nameof(ActionTimeout));
        Positive(PingTimeout, nameof(PingTimeout));
        Positive(ReconnectDelayMin, nameof(ReconnectDelayMin));
        if (PingInterval < TimeSpan.Zero)
        {
            errors.Add("PingInterval cannot be negative (use TimeSpan.Zero to turn keep-alive off).");
        }

        if (ReconnectDelayMax < ReconnectDelayMin)
        {
            errors.Add($"ReconnectDelayMax ({ReconnectDelayMax}) must be at least ReconnectDelayMin ({ReconnectDelayMin}).");
        }

        if (LogoffTimeout < TimeSpan.Zero)
        {
            errors.Add("LogoffTimeout cannot be negative (use TimeSpan.Zero to close without Logoff).");
        }

        if (LoginFailureRetryDelay < TimeSpan.Zero)
        {
            errors.Add("LoginFailureRetryDelay cannot be negative.");
        }

        if (double.IsNaN(ReconnectJitter) || ReconnectJitter is < 0 or > 1)
        {
            errors.Add($"ReconnectJitter must be between 0 and 1 (was {ReconnectJitter}).");
        }

        if (MaxReconnectAttempts < -1)
        {
            errors.Add("MaxReconnectAttempts must be -1 (forever) or a count.");
        }

        if (EventBacklogLimit < 1)
        {
            errors.Add("EventBacklogLimit must be at least 1.");
        }

        if (EventBacklogByteLimit < 64 * 1024)
        {
            errors.Add($"EventBacklogByteLimit must be at least 65536 bytes (was {EventBacklogByteLimit}).");
        }

        if (ReaderLead < 0)
        {
            errors.Add($"ReaderLead cannot be negative (was {ReaderLead}; 0 turns the reader's pause off).");
        }

        if (ReaderLeadWait < TimeSpan.Zero)
        {
            errors.Add($"ReaderLeadWait cannot be negative (was {ReaderLeadWait}).");
        }

        if (WriteQueueCapacity < 1)
        {
            errors.Add("WriteQueueCapacity must be at least 1.");
        }

        if (MaxLineLength < 256)
        {
            errors.Add("MaxLineLength must be at least 256 bytes.");
        }

        if (MaxMessageLength < MaxLineLength)
        {
            errors.Add("MaxMessageLength must be at least MaxLineLength.");
        }

        if (ReceiveBufferSize < 512)
        {
            errors.Add("ReceiveBufferSize must be at least 512 bytes.");
        }

        return errors;

        void Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"{name} must be positive (was {value}).");
            }
        }
    }

    /// <summary>Throws when the settings are unusable, listing every problem.</summary>
    /// <exception cref="ArgumentException">One or more settings are invalid.</exception>
    public void Validate()
    {
        var errors = GetValidationErrors();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid AMI client options: " + string.Join(" ", errors));
        }
    }

    // Records print every property; the secret must never reach a log this way.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Host = ").Append(Host)
            .Append(", Port = ").Append(Port)
            .Append(", Username = ").Append(Username)
            .Append(", Secret = ***")
            .Append(", Authentication = ").Append(Authentication)
            .Append(", Events = ").Append(Events)
            .Append(", Tls = ").Append(Tls is null ? "off" : "on");
        return true;
    }
}
