using System.Buffers;
using System.Globalization;
using System.Text.Json;
using CtiBridge.PbxSim.Model;

namespace CtiBridge.PbxSim.Ari;

/// <summary>
/// Turns model changes into ARI events (compact JSON, fields in Asterisk's order) for the Stasis
/// applications subscribed to the channel or bridge, and handles channels entering Stasis.
/// </summary>
internal sealed class AriEvents(PbxSimulator simulator)
{
    internal const string AsteriskId = "02:fc:00:00:00:01";

    /// <summary>Events published since start (benchmarks read it).</summary>
    public long Count { get; private set; }

    private DateTimeOffset Now => simulator.Time.GetUtcNow();

    /// <summary>ARI's timestamp format, e.g. <c>2026-11-22T16:42:35.513+0000</c>.</summary>
    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'+0000'", CultureInfo.InvariantCulture);

    public static string State(ChannelState state) => state switch
    {
        ChannelState.Down => "Down",
        ChannelState.Reserved => "Rsrvd",
        ChannelState.OffHook => "OffHook",
        ChannelState.Dialing => "Dialing",
        ChannelState.Ring => "Ring",
        ChannelState.Ringing => "Ringing",
        ChannelState.Up => "Up",
        ChannelState.Busy => "Busy",
        _ => "Unknown",
    };

    public static void WriteChannel(Utf8JsonWriter w, Channel c, bool clearDialplanApp = false)
    {
        w.WriteStartObject();
        w.WriteString("id", c.UniqueId);
        w.WriteString("name", c.Name);
        w.WriteString("state", State(c.State));
        w.WriteString("protocol_id", "");
        w.WriteStartObject("caller");
        w.WriteString("name", c.CallerName);
        w.WriteString("number", c.CallerNum);
        w.WriteEndObject();
        w.WriteStartObject("connected");
        w.WriteString("name", c.ConnectedName);
        w.WriteString("number", c.ConnectedNum);
        w.WriteEndObject();
        w.WriteString("accountcode", c.AccountCode);
        w.WriteStartObject("dialplan");
        w.WriteString("context", c.Context);
        w.WriteString("exten", c.Exten);
        w.WriteNumber("priority", c.Priority);
        w.WriteString("app_name", clearDialplanApp ? "" : c.Application);
        w.WriteString("app_data", clearDialplanApp ? "" : c.AppData);
        w.WriteEndObject();
        w.WriteString("creationtime", Time(c.CreatedAt));
        w.WriteString("language", c.Language);
        w.WriteEndObject();
    }

    public static void WriteBridge(Utf8JsonWriter w, Bridge b)
    {
        w.WriteStartObject();
        w.WriteString("id", b.Id);
        w.WriteString("technology", b.Technology);
        w.WriteString("bridge_type", b.AriType);
        w.WriteString("bridge_class", b.BridgeClass);
        w.WriteString("creator", b.Creator);
        w.WriteString("name", b.BridgeName);
        w.WriteStartArray("channels");
        // The bridge snapshot keeps its channel ids in a one-bucket sorted string container.
        foreach (var id in b.Members.Select(m => m.UniqueId).Order(StringComparer.Ordinal))
        {
            w.WriteStringValue(id);
        }

        w.WriteEndArray();
        w.WriteString("creationtime", Time(b.CreatedAt));
        w.WriteString("video_mode", b.VideoMode);
        w.WriteEndObject();
    }

    private void Send(IEnumerable<string> apps, Action<Utf8JsonWriter> body, string type, Action<Utf8JsonWriter>? before = null)
    {
        foreach (var app in apps.Distinct(StringComparer.Ordinal).ToList())
        {
            if (!simulator.Ari.HasApplication(app))
            {
                continue;
            }

            var buffer = new ArrayBufferWriter<byte>(1024);
            using (var w = AriJson.CreateWriter(buffer))
            {
                w.WriteStartObject();
                before?.Invoke(w);
                w.WriteString("type", type);
                w.WriteString("timestamp", Time(Now));
                body(w);
                w.WriteString("asterisk_id", AsteriskId);
                w.WriteString("application", app);
                w.WriteEndObject();
            }

            Count++;
            simulator.Ari.Publish(app, buffer.WrittenSpan.ToArray());
        }
    }

    private void ChannelOnly(Channel c, string type, Action<Utf8JsonWriter>? fields = null, Action<Utf8JsonWriter>? before = null, bool clearApp = false) =>
        Send(c.AriApps, w =>
        {
            fields?.Invoke(w);
            w.WritePropertyName("channel");
            WriteChannel(w, c, clearApp);
        }, type, before);

    public void ChannelStateChanged(Channel c) => ChannelOnly(c, "ChannelStateChange");

    public void ChannelVarset(Channel c, string name, string value) =>
        ChannelOnly(c, "ChannelVarset", before: w =>
        {
            w.WriteString("variable", name);
            w.WriteString("value", value);
        });

    public void ChannelCallerId(Channel c) =>
        ChannelOnly(c, "ChannelCallerId", w =>
        {
            var (code, text) = PbxModel.CallerPresentation(c);
            w.WriteNumber("caller_presentation", code);
            w.WriteString("caller_presentation_txt", text);
        });

    public void ChannelConnectedLine(Channel c) => ChannelOnly(c, "ChannelConnectedLine");

    public void ChannelDialplan(Channel c) =>
        ChannelOnly(c, "ChannelDialplan", w =>
        {
            w.WriteString("dialplan_app", c.Application);
            w.WriteString("dialplan_app_data", c.AppData);
        });

    public void ChannelDtmfReceived(Channel c, string digit, int durationMs) =>
        ChannelOnly(c, "ChannelDtmfReceived", w =>
        {
            w.WriteString("digit", digit);
            w.WriteNumber("duration_ms", durationMs);
        });

    public void ChannelHangupRequest(Channel c, int cause, bool soft) =>
        ChannelOnly(c, "ChannelHangupRequest", before: w =>
        {
            w.WriteNumber("cause", cause);
            if (soft)
            {
                w.WriteBoolean("soft", true);
            }
        });

    public void ChannelUserEvent(Channel c, string name, IReadOnlyList<KeyValuePair<string, string>> fields) =>
        ChannelOnly(c, "ChannelUserevent", w =>
        {
            w.WriteString("eventname", name);
            w.WriteStartObject("userevent");
            foreach (var (key, value) in fields)
            {
                w.WriteString(key, value);
            }

            w.WriteString("eventname", name);
            w.WriteEndObject();
        });

    /// <summary>A user event without a source: <c>ChannelUserevent</c> with no channel, to <paramref name="app"/> only.</summary>
    public void ApplicationUserEvent(string app, string name, IReadOnlyList<KeyValuePair<string, string>> fields) =>
        Send([app], w =>
        {
            w.WriteString("eventname", name);
            w.WriteStartObject("userevent");
            foreach (var (key, value) in fields)
            {
                w.WriteString(key, value);
            }

            w.WriteString("eventname", name);
            w.WriteEndObject();
        }, "ChannelUserevent");

    public void Dial(DialAttempt dial, string status)
    {
        var apps = dial.Destination.AriApps.Concat(dial.Caller?.AriApps ?? []);
        Send(apps, w =>
        {
            w.WriteString("dialstatus", status);
            w.WriteString("forward", "");
            w.WriteString("dialstring", dial.FromAri && status.Length > 0 ? "" : dial.DialString);
            // An ARI /dial?caller= only sets the connected line; the Dial event names no caller (as recorded).
            if (dial.Caller is not null && !dial.FromAri)
            {
                w.WritePropertyName("caller");
                WriteChannel(w, dial.Caller);
            }

            w.WritePropertyName("peer");
            WriteChannel(w, dial.Destination);
        }, "Dial");
    }

    /// <summary>Leaving Stasis by hanging up: StasisEnd, then STASISSTATUS=SUCCESS (as recorded).</summary>
    public void LeaveStasis(Channel c)
    {
        if (c.StasisApp is null)
        {
            return;
        }

        var app = c.StasisApp;
        c.StasisApp = null;
        ChannelOnly(c, "StasisEnd");
        if (!c.AriOriginated)
        {
            // A channel that came in from the dialplan is unsubscribed first: no more events for it.
            c.AriApps.Remove(app);
        }

        simulator.Model.SetVariable(c, "STASISSTATUS", "SUCCESS");
        if (c.BeforeStasis is { } before)
        {
            (c.Application, c.AppData) = before;
        }
    }

    public void ChannelDestroyed(Channel c, int cause)
    {
        ChannelOnly(c, "ChannelDestroyed", w =>
        {
            w.WriteNumber("cause", cause);
            w.WriteString("cause_txt", PbxModel.CauseText(cause));
        }, clearApp: c.RanPbx);
        c.AriApps.Clear();
    }

    public void ChannelEnteredBridge(Bridge bridge, Channel c) => BridgeChannel(bridge, c, "ChannelEnteredBridge");

    public void ChannelLeftBridge(Bridge bridge, Channel c) => BridgeChannel(bridge, c, "ChannelLeftBridge");

    private void BridgeChannel(Bridge bridge, Channel c, string type) =>
        Send(bridge.AriApps.Concat(c.AriApps), w =>
        {
            w.WritePropertyName("bridge");
            WriteBridge(w, bridge);
            w.WritePropertyName("channel");
            WriteChannel(w, c);
        }, type);

    public void BridgeDestroyed(Bridge bridge) =>
        Send(bridge.AriApps, w =>
        {
            w.WritePropertyName("bridge");
            WriteBridge(w, bridge);
        }, "BridgeDestroyed");

    public void Playback(string app, string type, string id, string mediaUri, string targetUri, string state, string? nextMediaUri = null, string language = "en") =>
        Send([app], w =>
        {
            w.WriteStartObject("playback");
            w.WriteString("id", id);
            w.WriteString("media_uri", mediaUri);
            if (nextMediaUri is not null)
            {
                w.WriteString("next_media_uri", nextMediaUri);
            }

            w.WriteString("target_uri", targetUri);
            w.WriteString("language", language);
            w.WriteString("state", state);
            w.WriteEndObject();
        }, type);

    public void Recording(string app, string type, string name, string targetUri, string state, int? duration) =>
        Send([app], w =>
        {
            w.WriteStartObject("recording");
            w.WriteString("name", name);
            w.WriteString("format", "wav");
            w.WriteString("state", state);
            w.WriteString("target_uri", targetUri);
            if (duration is { } d)
            {
                w.WriteNumber("duration", d);
            }

            w.WriteEndObject();
        }, type);

    /// <summary>
    /// <c>Stasis(app,args...)</c>: the channel enters the application if a client holds its WebSocket;
    /// otherwise Asterisk sets STASISSTATUS=FAILED and the dialplan goes on.
    /// </summary>
    public bool EnterStasis(Channel c, IReadOnlyList<string> args)
    {
        var app = args.Count > 0 ? args[0] : "";
        if (!simulator.Ari.HasApplication(app))
        {
            simulator.Model.SetVariable(c, "STASISSTATUS", "FAILED");
            return false;
        }

        c.BeforeStasis = (c.Application, c.AppData);
        c.Application = "Stasis";
        c.AppData = string.Join(',', args);
        if (c.AriOriginated)
        {
            c.AriApps.Add(app);
        }

        // The application hears of a dialplan channel only from StasisStart on.
        simulator.Model.SetVariable(c, "STASISSTATUS", "");
        c.AriApps.Add(app);
        c.StasisApp = app;
        c.Generation++;
        Send([app], w =>
        {
            w.WriteStartArray("args");
            foreach (var arg in args.Skip(1))
            {
                w.WriteStringValue(arg);
            }

            w.WriteEndArray();
            w.WritePropertyName("channel");
            WriteChannel(w, c);
        }, "StasisStart");
        return true;
    }
}
