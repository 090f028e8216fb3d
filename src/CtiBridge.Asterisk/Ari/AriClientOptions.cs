using System.Net.Security;
using System.Text;

namespace CtiBridge.Asterisk.Ari;

/// <summary>
/// Settings of the ARI client (REST calls and the events WebSocket). Defaults suit an Asterisk on the
/// same host; <see cref="Validate"/> lists everything wrong at once so start-up fails with one clear message.
/// <see cref="ToString"/> never shows the password.
/// </summary>
public sealed record AriClientOptions
{
    /// <summary>The configuration section the service binds these options from.</summary>
    public const string SectionName = "Asterisk:Ari";

    /// <summary>ARI base URL, including the <c>/ari</c> prefix. Default <c>http://127.0.0.1:8088/ari</c>. <c>https</c> gives <c>wss</c> events.</summary>
    public Uri BaseAddress { get; init; } = new("http://127.0.0.1:8088/ari");

    /// <summary>ARI user (ari.conf). Required. Sent only in the Basic <c>Authorization</c> header, never in a URL.</summary>
    public string UserName { get; init; } = "";

    /// <summary>ARI password (ari.conf). Required. Never logged, never in a URL.</summary>
    public string Password { get; init; } = "";

    /// <summary>The Stasis applications the events WebSocket registers. Default <c>["ctibridge"]</c>.</summary>
    public IReadOnlyList<string> Applications { get; init; } = ["ctibridge"];

    /// <summary>Subscribe the applications to all channels, bridges and endpoints (<c>subscribeAll=true</c>). Default false.</summary>
    public bool SubscribeAll { get; init; }

    /// <summary>Upper bound for one REST call, from sending to the end of the body. Default 10 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Most HTTP connections the REST client opens to Asterisk (only for the HttpClient it creates itself).
    /// Asterisk's http.conf <c>sessionlimit</c> defaults to 100 for all HTTP users together, and Asterisk
    /// answers each connection's requests one at a time, so calls beyond this wait in the client instead
    /// of being refused. Default 32.
    /// </summary>
    public int MaxConnections { get; init; } = 32;

    /// <summary>
    /// How REST calls travel: <see cref="AriRestTransport.Sockets"/> (default), the client's own minimal
    /// HTTP/1.1 over pooled keep-alive sockets, or <see cref="AriRestTransport.HttpClient"/> (.NET's
    /// SocketsHttpHandler), kept as a fallback. Ignored when the host passes its own HttpClient.
    /// </summary>
    public AriRestTransport RestTransport { get; init; } = AriRestTransport.Sockets;

    /// <summary>
    /// Most REST requests written on one connection before its first answer is back (HTTP/1.1
    /// pipelining), with <see cref="AriRestTransport.Sockets"/> only. Default 1: no pipelining, one
    /// request at a time per connection. Asterisk's HTTP server serves pipelined requests in order
    /// (docs/ari.md, "Pipelining"), but a request then waits behind a slow one on its connection, and a
    /// connection broken under several requests leaves the outcome of each POST or DELETE among them
    /// unknown; it pays only with more calls in flight than <see cref="MaxConnections"/>. 1 to 64.
    /// </summary>
    public int MaxPipelineDepth { get; init; } = 1;

    /// <summary>Upper bound for opening a connection: the events WebSocket (TCP connect plus upgrade) or a REST connection (TCP connect plus TLS). Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the events WebSocket sends a ping when nothing else arrives. Default 15 s.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long after a ping without any frame back (pong or event) the connection counts as dead and is
    /// replaced. Default 10 s.
    /// </summary>
    public TimeSpan PongTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>First reconnect delay after the events WebSocket drops; doubles per failed attempt. Default 0.5 s.</summary>
    public TimeSpan ReconnectDelayMin { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Largest reconnect delay. Reconnecting never gives up. Default 30 s.</summary>
    public TimeSpan ReconnectDelayMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Random spread applied to each reconnect delay, as a fraction (0.2 = ±20 %), so many CtiBridge
    /// instances do not hammer a restarting Asterisk in step. Default 0.2; 0 to 1.
    /// </summary>
    public double ReconnectJitter { get; init; } = 0.2;

    /// <summary>
    /// TLS settings for an <c>https</c> <see cref="BaseAddress"/> (REST and the <c>wss</c> events
    /// WebSocket): e.g. <see cref="SslClientAuthenticationOptions.RemoteCertificateValidationCallback"/>
    /// to trust Asterisk's self-signed certificate, or client certificates. Null uses the system's
    /// certificate validation. <see cref="SslClientAuthenticationOptions.TargetHost"/> defaults to the
    /// base address's host.
    /// </summary>
    public SslClientAuthenticationOptions? Tls { get; init; }

    /// <summary>Largest WebSocket message accepted (a guard against a corrupt length field). Default 16 MiB.</summary>
    public int MaxMessageBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Everything wrong with these options, one line each; empty when they are usable.</summary>
    /// <returns>The problems found.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (!BaseAddress.IsAbsoluteUri || BaseAddress.Scheme is not ("http" or "https"))
        {
            problems.Add($"{SectionName}:BaseAddress must be an absolute http or https URL such as http://127.0.0.1:8088/ari (got '{BaseAddress}').");
        }
        else if (!string.IsNullOrEmpty(BaseAddress.UserInfo))
        {
            problems.Add($"{SectionName}:BaseAddress must not carry credentials; set UserName and Password instead.");
        }

        if (string.IsNullOrWhiteSpace(UserName))
        {
            problems.Add($"{SectionName}:UserName is required (an ARI user from ari.conf).");
        }
        else if (UserName.Contains(':', StringComparison.Ordinal))
        {
            problems.Add($"{SectionName}:UserName must not contain ':' (Basic authentication cannot carry it).");
        }

        if (string.IsNullOrEmpty(Password))
        {
            problems.Add($"{SectionName}:Password is required.");
        }

        if (Applications is null || Applications.Count == 0)
        {
            problems.Add($"{SectionName}:Applications must name at least one Stasis application (e.g. ctibridge).");
        }
        else
        {
            foreach (var app in Applications)
            {
                if (string.IsNullOrWhiteSpace(app) || app.Contains(',', StringComparison.Ordinal))
                {
                    problems.Add($"{SectionName}:Applications contains '{app}': names must be non-empty and without commas.");
                }
            }
        }

        CheckPositive(problems, RequestTimeout, nameof(RequestTimeout));
        CheckPositive(problems, ConnectTimeout, nameof(ConnectTimeout));
        CheckPositive(problems, PingInterval, nameof(PingInterval));
        CheckPositive(problems, PongTimeout, nameof(PongTimeout));
        CheckPositive(problems, ReconnectDelayMin, nameof(ReconnectDelayMin));
        if (ReconnectDelayMax < ReconnectDelayMin)
        {
            problems.Add($"{SectionName}:ReconnectDelayMax ({ReconnectDelayMax}) must not be below ReconnectDelayMin ({ReconnectDelayMin}).");
        }

        if (double.IsNaN(ReconnectJitter) || ReconnectJitter is < 0 or > 1)
        {
            problems.Add($"{SectionName}:ReconnectJitter must be between 0 and 1 (got {ReconnectJitter}).");
        }

        if (MaxConnections < 1)
        {
            problems.Add($"{SectionName}:MaxConnections must be at least 1 (got {MaxConnections}).");
        }

        if (MaxPipelineDepth is < 1 or > 64)
        {
            problems.Add($"{SectionName}:MaxPipelineDepth must be between 1 (no pipelining) and 64 (got {MaxPipelineDepth}).");
        }

        if (!Enum.IsDefined(RestTransport))
        {
            problems.Add($"{SectionName}:RestTransport must be Sockets or HttpClient (got {(int)RestTransport}).");
        }

        if (MaxMessageBytes < 1024)
        {
            problems.Add($"{SectionName}:MaxMessageBytes must be at least 1024 (got {MaxMessageBytes}).");
        }

        return problems;
    }

    /// <summary>Throws when <see cref="Validate"/> finds problems, listing all of them.</summary>
    /// <exception cref="ArgumentException">The options are not usable.</exception>
    public void ThrowIfInvalid()
    {
        var problems = Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid ARI client options: " + string.Join(" ", problems));
        }
    }

    /// <summary>The Basic credentials (base64 of <c>user:password</c>) for the <c>Authorization</c> header; never logged.</summary>
    internal string BasicCredentials() => Convert.ToBase64String(Encoding.UTF8.GetBytes(UserName + ":" + Password));

    /// <summary>Prints the settings with the password masked.</summary>
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("BaseAddress = ").Append(BaseAddress)
            .Append(", UserName = ").Append(UserName)
            .Append(", Password = ").Append(Password.Length == 0 ? "(none)" : "***")
            .Append(", Applications = [").AppendJoin(',', Applications ?? []).Append(']')
            .Append(", SubscribeAll = ").Append(SubscribeAll)
            .Append(", RequestTimeout = ").Append(RequestTimeout)
            .Append(", RestTransport = ").Append(RestTransport)
            .Append(", MaxPipelineDepth = ").Append(MaxPipelineDepth)
            .Append(", PingInterval = ").Append(PingInterval)
            .Append(", ReconnectDelayMin = ").Append(ReconnectDelayMin)
            .Append(", ReconnectDelayMax = ").Append(ReconnectDelayMax)
            .Append(", Tls = ").Append(Tls is null ? "default" : "custom");
        return true;
    }

    private static void CheckPositive(List<string> problems, TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            problems.Add($"{SectionName}:{name} must be positive (got {value}).");
        }
    }
}

/// <summary>How the ARI client's REST calls reach Asterisk.</summary>
public enum AriRestTransport
{
    /// <summary>The client's own minimal HTTP/1.1 over pooled keep-alive sockets: about a fifth less CPU per call than HttpClient (docs/benchmarks.md).</summary>
    Sockets,

    /// <summary>.NET's HttpClient (SocketsHttpHandler), as before the own transport existed.</summary>
    HttpClient,
}
