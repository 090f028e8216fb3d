using System.Globalization;

namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// <c>OriginateResponse</c> <c>Reason</c> codes (Asterisk's dial outcome; the values seen in
/// the recordings are named, others keep their number).
/// </summary>
public enum OriginateReason
{
    /// <summary>0: failed: rejected, unavailable, no such extension.</summary>
    Failed = 0,

    /// <summary>1: the far end hung up before answering.</summary>
    Hangup = 1,

    /// <summary>3: rang until the originate <c>Timeout</c> (no answer).</summary>
    NoAnswer = 3,

    /// <summary>4: answered.</summary>
    Answered = 4,

    /// <summary>5: busy.</summary>
    Busy = 5,

    /// <summary>8: congestion (network or trunk).</summary>
    Congestion = 8,
}

/// <summary>An <c>Originate</c> action. Set either <see cref="Application"/> or <see cref="Context"/>/<see cref="Exten"/>.</summary>
public sealed record OriginateRequest
{
    /// <summary>Channel to call first (e.g. <c>PJSIP/1001</c> or <c>Local/agent1@agents</c>). Required.</summary>
    public required string Channel { get; init; }

    /// <summary>Dialplan context to connect the answered channel to.</summary>
    public string? Context { get; init; }

    /// <summary>Extension in <see cref="Context"/>.</summary>
    public string? Exten { get; init; }

    /// <summary>Priority in <see cref="Exten"/> (usually 1).</summary>
    public int? Priority { get; init; }

    /// <summary>Application to run on the answered channel instead of the dialplan (e.g. <c>Playback</c>).</summary>
    public string? Application { get; init; }

    /// <summary>Arguments of <see cref="Application"/>.</summary>
    public string? Data { get; init; }

    /// <summary>Caller id shown, e.g. <c>"CtiBridge" &lt;100&gt;</c>.</summary>
    public string? CallerId { get; init; }

    /// <summary>How long to ring before giving up (Asterisk's default is 30 s). Sent in milliseconds.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Channel variables, each sent as one <c>Variable: name=value</c> header, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Variables { get; init; } = [];

    /// <summary>Uniqueid to give the new channel.</summary>
    public string? ChannelId { get; init; }

    /// <summary>Uniqueid for the second channel of a Local pair.</summary>
    public string? OtherChannelId { get; init; }

    /// <summary>CDR account code.</summary>
    public string? Account { get; init; }

    /// <summary>Codecs to allow, comma-separated.</summary>
    public string? Codecs { get; init; }

    /// <summary>Connect on early media (progress) instead of answer.</summary>
    public bool? EarlyMedia { get; init; }

    internal AmiAction ToAction(bool async)
    {
        var action = new AmiAction("Originate")
            .Add("Channel", Channel)
            .Add("Context", Context)
            .Add("Exten", Exten)
            .Add("Priority", Priority)
            .Add("Application", Application)
            .Add("Data", Data)
            .Add("CallerID", CallerId)
            .Add("Timeout", Timeout is { } t ? (int)Math.Min(t.TotalMilliseconds, int.MaxValue) : null);
        foreach (var (name, value) in Variables)
        {
            action.Add("Variable", name + "=" + value);
        }

        return action
            .Add("ChannelId", ChannelId)
            .Add("OtherChannelId", OtherChannelId)
            .Add("Account", Account)
            .Add("EarlyMedia", EarlyMedia)
            .Add("Codecs", Codecs)
            .Add("Async", async ? "true" : null);
    }
}

/// <summary>The outcome of an <c>Originate</c>.</summary>
/// <param name="Response">The action's response (<c>Originate successfully queued</c>, or the error).</param>
/// <param name="Outcome">The <c>OriginateResponse</c> event (asynchronous originate), or null.</param>
public sealed record OriginateResult(AmiMessage Response, AmiMessage? Outcome)
{
    /// <summary>True when the call was answered (<c>Response: Success</c> on the outcome, or a successful synchronous originate).</summary>
    public bool Answered => Outcome is null ? Response.IsSuccess : string.Equals(Outcome.Response, "Success", StringComparison.OrdinalIgnoreCase);

    /// <summary>The <c>Reason</c> code of the outcome; null for a synchronous originate or an error response.</summary>
    public OriginateReason? Reason =>
        Outcome?["Reason"] is { } text && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var code) ? (OriginateReason)code : null;

    /// <summary>The outcome's <c>Uniqueid</c> (the originated channel), when known.</summary>
    public string? Uniqueid => Outcome?["Uniqueid"];

    /// <summary>The outcome's <c>Channel</c>, when known.</summary>
    public string? Channel => Outcome?["Channel"];
}

/// <summary>
/// Thin typed wrappers for the AMI actions CtiBridge uses. Each builds the action with Asterisk's
/// header names and sends it; except for Originate, an error response throws
/// <see cref="AmiActionException"/> carrying Asterisk's message.
/// </summary>
public static class AmiCallControl
{
    /// <summary>Throws <see cref="AmiActionException"/> unless the response is a success.</summary>
    public static AmiMessage EnsureSuccess(this AmiMessage response, string action)
    {
        ArgumentNullException.ThrowIfNull(response);
        return response.IsSuccess ? response : throw new AmiActionException(action, response);
    }

    /// <summary>
    /// Asynchronous originate (<c>Async: true</c>): returns once Asterisk reports the outcome in
    /// <c>OriginateResponse</c> (answered, busy, no answer...). The wait covers the ring time.
    /// </summary>
    public static async Task<OriginateResult> OriginateAsync(this AmiClient client, OriginateRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(request);
        var action = request.ToAction(async: true);
        action.Timeout = (request.Timeout ?? TimeSpan.FromSeconds(30)) + client.Options.ActionTimeout;
        var result = await client.SendAndAwaitEventAsync(action, "OriginateResponse", cancellationToken);
        return new OriginateResult(result.Response, result.Complete);
    }

    /// <summary>
    /// Synchronous originate: Asterisk answers only once the call is answered (<c>Success</c>) or
    /// failed (<c>Error</c>, <c>Originate failed</c>); no reason code is given in this mode.
    /// </summary>
    public static async Task<OriginateResult> OriginateSynchronouslyAsync(this AmiClient client, OriginateRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(request);
        var action = request.ToAction(async: false);
        action.Timeout = (request.Timeout ?? TimeSpan.FromSeconds(30)) + client.Options.ActionTimeout;
        return new OriginateResult(await client.SendAsync(action, cancellationToken), null);
    }

    /// <summary>Hangs up a channel, optionally with a Q.850 cause (16 = normal clearing).</summary>
    public static Task<AmiMessage> HangupAsync(this AmiClient client, string channel, int? cause = null, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("Hangup").Add("Channel", channel).Add("Cause", cause), cancellationToken);

    /// <summary>Sends a channel (and optionally a second one) to another place in the dialplan.</summary>
    public static Task<AmiMessage> RedirectAsync(
        this AmiClient client, string channel, string context, string exten, int priority = 1,
        string? extraChannel = null, string? extraContext = null, string? extraExten = null, int? extraPriority = null,
        CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("Redirect")
            .Add("Channel", channel).Add("ExtraChannel", extraChannel)
            .Add("Exten", exten).Add("ExtraExten", extraExten)
            .Add("Context", context).Add("ExtraContext", extraContext)
            .Add("Priority", priority).Add("ExtraPriority", extraPriority), cancellationToken);

    /// <summary>Blind-transfers the party bridged with <paramref name="channel"/> to <paramref name="exten"/>@<paramref name="context"/>.</summary>
    public static Task<AmiMessage> BlindTransferAsync(this AmiClient client, string channel, string context, string exten, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("BlindTransfer").Add("Channel", channel).Add("Context", context).Add("Exten", exten), cancellationToken);

    /// <summary>Starts an attended transfer from <paramref name="channel"/> to <paramref name="exten"/> (in <paramref name="context"/> or the channel's).</summary>
    public static Task<AmiMessage> AtxferAsync(this AmiClient client, string channel, string exten, string? context = null, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("Atxfer").Add("Channel", channel).Add("Exten", exten).Add("Context", context), cancellationToken);

    /// <summary>Sets a channel variable, or a global one when <paramref name="channel"/> is null.</summary>
    public static Task<AmiMessage> SetVariableAsync(this AmiClient client, string? channel, string variable, string value, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("Setvar").Add("Channel", channel).Add("Variable", variable).Add("Value", value), cancellationToken);

    /// <summary>Reads a channel variable (or a global one when <paramref name="channel"/> is null); empty when unset.</summary>
    public static async Task<string> GetVariableAsync(this AmiClient client, string? channel, string variable, CancellationToken cancellationToken = default) =>
        (await Send(client, new AmiAction("Getvar").Add("Channel", channel).Add("Variable", variable), cancellationToken))["Value"] ?? string.Empty;

    /// <summary>Plays a DTMF digit on a channel.</summary>
    public static Task<AmiMessage> PlayDtmfAsync(this AmiClient client, string channel, char digit, TimeSpan? duration = null, bool? receive = null, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("PlayDTMF").Add("Channel", channel).Add("Digit", digit.ToString())
            .Add("Duration", duration is { } d ? (int)d.TotalMilliseconds : null).Add("Receive", receive), cancellationToken);

    /// <summary>Starts recording a channel (MixMonitor); the response may carry <c>MixMonitorID</c>.</summary>
    public static Task<AmiMessage> MixMonitorAsync(this AmiClient client, string channel, string file, string? options = null, string? command = null, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("MixMonitor").Add("Channel", channel).Add("File", file).Add("Options", options).Add("Command", command), cancellationToken);

    /// <summary>Stops a MixMonitor recording on a channel.</summary>
    public static Task<AmiMessage> StopMixMonitorAsync(this AmiClient client, string channel, string? mixMonitorId = null, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("StopMixMonitor").Add("Channel", channel).Add("MixMonitorID", mixMonitorId), cancellationToken);

    /// <summary>Adds a member (agent interface) to a queue.</summary>
    public static Task<AmiMessage> QueueAddAsync(
        this AmiClient client, string queue, string memberInterface, string? memberName = null, string? stateInterface = null,
        int? penalty = null, bool? paused = null, string? reason = null, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("QueueAdd").Add("Queue", queue).Add("Interface", memberInterface).Add("MemberName", memberName)
            .Add("StateInterface", stateInterface).Add("Penalty", penalty).Add("Paused", paused).Add("Reason", reason), cancellationToken);

    /// <summary>Removes a member from a queue.</summary>
    public static Task<AmiMessage> QueueRemoveAsync(this AmiClient client, string queue, string memberInterface, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("QueueRemove").Add("Queue", queue).Add("Interface", memberInterface), cancellationToken);

    /// <summary>Pauses or unpauses a member in one queue, or in all its queues when <paramref name="queue"/> is null.</summary>
    public static Task<AmiMessage> QueuePauseAsync(this AmiClient client, string memberInterface, bool paused, string? queue = null, string? reason = null, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("QueuePause").Add("Queue", queue).Add("Interface", memberInterface).Add("Paused", paused).Add("Reason", reason), cancellationToken);

    /// <summary>Sets a member's penalty in one queue or all.</summary>
    public static Task<AmiMessage> QueuePenaltyAsync(this AmiClient client, string memberInterface, int penalty, string? queue = null, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("QueuePenalty").Add("Queue", queue).Add("Interface", memberInterface).Add("Penalty", penalty), cancellationToken);

    /// <summary>Writes a custom line to queue_log.</summary>
    public static Task<AmiMessage> QueueLogAsync(
        this AmiClient client, string queue, string eventName, string? uniqueid = null, string? memberInterface = null, string? message = null,
        CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("QueueLog").Add("Queue", queue).Add("Event", eventName).Add("Uniqueid", uniqueid)
            .Add("Interface", memberInterface).Add("Message", message), cancellationToken);

    /// <summary>Queue parameters, members and callers (<c>QueueParams</c>, <c>QueueMember</c>, <c>QueueEntry</c> items).</summary>
    public static Task<AmiListResult> QueueStatusAsync(this AmiClient client, string? queue = null, string? member = null, CancellationToken cancellationToken = default) =>
        SendList(client, new AmiAction("QueueStatus").Add("Queue", queue).Add("Member", member), cancellationToken);

    /// <summary>Per-queue counts (<c>QueueSummary</c> items).</summary>
    public static Task<AmiListResult> QueueSummaryAsync(this AmiClient client, string? queue = null, CancellationToken cancellationToken = default) =>
        SendList(client, new AmiAction("QueueSummary").Add("Queue", queue), cancellationToken);

    /// <summary>Every active channel (<c>CoreShowChannel</c> items).</summary>
    public static Task<AmiListResult> CoreShowChannelsAsync(this AmiClient client, CancellationToken cancellationToken = default) =>
        SendList(client, new AmiAction("CoreShowChannels"), cancellationToken);

    /// <summary>Status of one channel or all (<c>Status</c> items), optionally with variables (comma-separated).</summary>
    public static Task<AmiListResult> StatusAsync(this AmiClient client, string? channel = null, string? variables = null, CancellationToken cancellationToken = default) =>
        SendList(client, new AmiAction("Status").Add("Channel", channel).Add("Variables", variables), cancellationToken);

    /// <summary>Runs a CLI command and returns its output lines (both Asterisk 14+ <c>Output:</c> and the older block form).</summary>
    public static async Task<IReadOnlyList<string>> CommandAsync(this AmiClient client, string command, CancellationToken cancellationToken = default) =>
        (await Send(client, new AmiAction("Command").Add("Command", command), cancellationToken)).GetValues("Output");

    /// <summary>Raises a <c>UserEvent</c> with the given extra headers (seen by every AMI client).</summary>
    public static Task<AmiMessage> UserEventAsync(this AmiClient client, string userEvent, IEnumerable<KeyValuePair<string, string>>? headers = null, CancellationToken cancellationToken = default)
    {
        var action = new AmiAction("UserEvent").Add("UserEvent", userEvent);
        foreach (var (key, value) in headers ?? [])
        {
            action.Add(key, value);
        }

        return Send(client, action, cancellationToken);
    }

    /// <summary>Pings Asterisk (<c>Ping: Pong</c> with a timestamp).</summary>
    public static Task<AmiMessage> PingAsync(this AmiClient client, CancellationToken cancellationToken = default) =>
        Send(client, new AmiAction("Ping"), cancellationToken);

    private static async Task<AmiMessage> Send(AmiClient client, AmiAction action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        return (await client.SendAsync(action, cancellationToken)).EnsureSuccess(action.Name);
    }

    private static async Task<AmiListResult> SendList(AmiClient client, AmiAction action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var result = await client.SendListAsync(action, cancellationToken);
        result.Response.EnsureSuccess(action.Name);
        return result;
    }
}
