namespace CtiBridge.Service.Configuration;

/// <summary>
/// The whole of <c>ctibridge.json</c>. Keys are case-insensitive; environment variables
/// <c>CTIBRIDGE__SECTION__KEY</c> override the file (e.g. <c>CTIBRIDGE__DATABASE__CONNECTIONSTRING</c>).
/// Any string value may be a secret reference: <c>${env:NAME}</c> or <c>${file:/path}</c>.
/// </summary>
public sealed class CtiBridgeSettings
{
    /// <summary>The PostgreSQL database holding records, agents' states and the callback scheduler.</summary>
    public DatabaseSettings Database { get; set; } = new();

    /// <summary>The Asterisk servers this instance drives (one or more; names must be unique).</summary>
    public List<AsteriskServerSettings> Asterisk { get; set; } = [];

    /// <summary>The HTTP API, wallboard, health and metrics endpoints.</summary>
    public HttpSettings Http { get; set; } = new();

    /// <summary>Where and how the service logs.</summary>
    public LogSettings Logging { get; set; } = new();

    /// <summary>Live call control: queues, agents, DID routing (docs/call-control.md).</summary>
    public global::CtiBridge.Service.CallControl.CallControlSettings CallControl { get; set; } = new();

    /// <summary>Callbacks: policy and scheduler (docs/callbacks.md).</summary>
    public global::CtiBridge.Service.Callbacks.CallbackSettings Callbacks { get; set; } = new();

    /// <summary>Click-to-dial (<c>POST /api/agents/{agentId}/dial</c>).</summary>
    public ClickToDialSettings ClickToDial { get; set; } = new();

    /// <summary>Where call and agent events are posted, signed (docs/api.md, webhooks).</summary>
    public List<global::CtiBridge.Service.Live.WebhookSettings> Webhooks { get; set; } = [];

    /// <summary>The outbound dialer (docs/dialer.md): off unless enabled.</summary>
    public global::CtiBridge.Service.Dialer.DialerSettings Dialer { get; set; } = new();

    /// <summary>
    /// Outbound campaigns, each written as a campaign file (docs/dialer.md). The service stores them
    /// in the database (the dialer's campaign table) at start-up and on every reload; their state
    /// (start, pause, stop) is changed over the API or the command line.
    /// </summary>
    public List<global::CtiBridge.Core.Dialer.CampaignDefinition> Campaigns { get; set; } = [];
}

/// <summary>Database settings.</summary>
public sealed class DatabaseSettings
{
    /// <summary>Npgsql connection string, e.g. <c>Host=127.0.0.1;Database=ctibridge;Username=ctibridge</c>.
    /// Put the password in <see cref="Password"/> (a secret reference) rather than here.</summary>
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>The database password, usually <c>${file:/etc/ctibridge/db.password}</c> or <c>${env:CTIBRIDGE_DB_PASSWORD}</c>.</summary>
    public string? Password { get; set; }

    /// <summary>Apply pending schema migrations when the service starts (default true).</summary>
    public bool MigrateOnStart { get; set; } = true;
}

/// <summary>One Asterisk server: its AMI and ARI endpoints.</summary>
public sealed class AsteriskServerSettings
{
    /// <summary>A short unique name used in logs, metrics and records (e.g. <c>pbx1</c>, <c>site-b</c>).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The Asterisk Manager Interface endpoint.</summary>
    public AmiEndpointSettings Ami { get; set; } = new();

    /// <summary>The Asterisk REST Interface endpoint.</summary>
    public AriEndpointSettings Ari { get; set; } = new();

    /// <summary>
    /// Trunks from this server to the other servers (several sites): how this server dials an
    /// agent whose phone is on another server, when a queue spans servers (docs/sites.md).
    /// </summary>
    public List<SiteTrunkSettings> Trunks { get; set; } = [];

    /// <summary>
    /// How this server dials an outside number (its own carrier trunk), with <c>{number}</c>, e.g.
    /// <c>PJSIP/{number}@carrier-shanghai</c>: for IVR external targets, overflow and transfers to outside
    /// numbers of calls on this server, and the callbacks dialled from it. Empty: <c>callControl.externalEndpoint</c>.
    /// </summary>
    public string? ExternalEndpoint { get; set; }
}

/// <summary>How one Asterisk server reaches the agents' phones of another server (an inter-site trunk).</summary>
public sealed class SiteTrunkSettings
{
    /// <summary>The other server's name (an <c>asterisk[].name</c>).</summary>
    public string To { get; set; } = string.Empty;

    /// <summary>
    /// The dial string this server originates to reach the agent's phone over the trunk, with
    /// <c>{resource}</c> (the agent's extension after the technology: <c>1001</c> of
    /// <c>PJSIP/1001</c>), <c>{extension}</c> (all of it) or <c>{agent}</c> (the agent ID),
    /// e.g. <c>PJSIP/{resource}@site-b</c> or <c>IAX2/site-b/{resource}</c>.
    /// </summary>
    public string Dial { get; set; } = string.Empty;
}

/// <summary>AMI connection settings (manager.conf).</summary>
public sealed class AmiEndpointSettings
{
    /// <summary>Host name or address of Asterisk's AMI (default 127.0.0.1).</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>TCP port (default 5038; Asterisk's <c>tlsbindport</c>, often 5039, with <see cref="UseTls"/>).</summary>
    public int Port { get; set; } = 5038;

    /// <summary>Use TLS (Asterisk's <c>tlsenable</c>).</summary>
    public bool UseTls { get; set; }

    /// <summary>The manager.conf user.</summary>
    public string Username { get; set; } = string.Empty;

    /// <summary>The user's secret; a secret reference is recommended.</summary>
    public string Secret { get; set; } = string.Empty;

    /// <summary>Log in with an MD5 challenge instead of sending the secret (default true).</summary>
    public bool UseMd5Login { get; set; } = true;
}

/// <summary>ARI connection settings (ari.conf, http.conf).</summary>
public sealed class AriEndpointSettings
{
    /// <summary>Base URL of ARI, e.g. <c>http://127.0.0.1:8088/ari</c>.</summary>
    public string BaseUrl { get; set; } = "http://127.0.0.1:8088/ari";

    /// <summary>The ari.conf user.</summary>
    public string Username { get; set; } = string.Empty;

    /// <summary>The user's password; a secret reference is recommended.</summary>
    public string Password { get; set; } = string.Empty;

    /// <summary>The Stasis application CtiBridge registers (default <c>ctibridge</c>; the dialplan sends calls to it).</summary>
    public string Application { get; set; } = "ctibridge";

    /// <summary>
    /// How REST calls travel to Asterisk: <c>own</c> (default), the client's own HTTP/1.1 over pooled
    /// keep-alive sockets, or <c>httpclient</c>, .NET's HttpClient (kept as the fallback should the own
    /// transport ever misbehave with a proxy or an Asterisk build). Case-insensitive; docs/ari.md "REST transport".
    /// </summary>
    public string Transport { get; set; } = AriTransportNames.Own;

    /// <summary>
    /// Most HTTP connections the REST client keeps open to this Asterisk (default 32, 1 to
    /// <see cref="MaxConnectionsLimit"/>); more calls in flight wait in the client for a free one.
    /// Asterisk's http.conf <c>sessionlimit</c> (100 by default) counts the HTTP sessions of all its
    /// users together: this value, plus one events WebSocket, plus every other instance's and tool's
    /// sessions must stay below it, or Asterisk closes the new connections unanswered. docs/ari.md "REST transport".
    /// </summary>
    public int MaxConnections { get; set; } = 32;

    /// <summary>The largest <see cref="MaxConnections"/> accepted.</summary>
    public const int MaxConnectionsLimit = 1000;

    /// <summary>
    /// HTTP/1.1 pipelining (own transport only): most REST requests written on one connection before its first
    /// answer is back, 1 (default: none) to <see cref="MaxPipelineDepthLimit"/>. Asterisk serves pipelined requests
    /// in order, but a request then waits behind a slow one, and a connection broken under several POSTs leaves each
    /// one's outcome unknown; it pays only with more calls in flight than <see cref="MaxConnections"/>.
    /// docs/ari.md "Pipelining".
    /// </summary>
    public int MaxPipelineDepth { get; set; } = 1;

    /// <summary>The largest <see cref="MaxPipelineDepth"/> accepted.</summary>
    public const int MaxPipelineDepthLimit = 64;
}

/// <summary>The values of <see cref="AriEndpointSettings.Transport"/>.</summary>
public static class AriTransportNames
{
    /// <summary>The client's own HTTP/1.1 transport.</summary>
    public const string Own = "own";

    /// <summary>.NET's HttpClient (SocketsHttpHandler).</summary>
    public const string HttpClient = "httpclient";

    /// <summary>Every accepted value, as written in docs and problems.</summary>
    public static IReadOnlyList<string> All { get; } = [Own, HttpClient];

    /// <summary>The client transport a setting names, or null when it names none.</summary>
    public static CtiBridge.Asterisk.Ari.AriRestTransport? Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        Own => CtiBridge.Asterisk.Ari.AriRestTransport.Sockets,
        HttpClient => CtiBridge.Asterisk.Ari.AriRestTransport.HttpClient,
        _ => null,
    };
}

/// <summary>HTTP endpoint settings.</summary>
public sealed class HttpSettings
{
    /// <summary>Where the HTTP API listens (default loopback only: <c>http://127.0.0.1:8080</c>).
    /// Anything else should be https; see docs/service.md.</summary>
    public string Urls { get; set; } = "http://127.0.0.1:8080";
}

/// <summary>Logging settings (Serilog).</summary>
public sealed class LogSettings
{
    /// <summary>Minimum level: Verbose, Debug, Information (default), Warning, Error, Fatal.</summary>
    public string Level { get; set; } = "Information";

    /// <summary>A rolling log file path (daily), e.g. <c>/var/log/ctibridge/ctibridge-.log</c>; none when empty.</summary>
    public string? File { get; set; }

    /// <summary>Write JSON (compact CLEF) instead of text (default false).</summary>
    public bool Json { get; set; }
}

/// <summary>Click-to-dial settings.</summary>
public sealed class ClickToDialSettings
{
    /// <summary>The dialplan context the dialled number runs in once the agent answers (default <c>from-internal</c>).</summary>
    public string Context { get; set; } = "from-internal";

    /// <summary>Pause reason set on a ready agent before dialling, so no queue call is offered meanwhile (default <c>outbound</c>).</summary>
    public string PauseReason { get; set; } = "outbound";
}
