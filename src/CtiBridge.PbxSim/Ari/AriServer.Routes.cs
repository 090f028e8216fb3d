using System.Globalization;
using System.Text.Json;
using CtiBridge.PbxSim.Model;

namespace CtiBridge.PbxSim.Ari;

/// <summary>ARI's REST resources, with Asterisk's status codes and error bodies (ari/rest recordings).</summary>
internal sealed partial class AriServer
{
    private static readonly Dictionary<string, string> ModuleDescriptions = new(StringComparer.Ordinal)
    {
        ["app_queue.so"] = "True Call Queueing",
        ["app_dial.so"] = "Dialing Application",
        ["app_playback.so"] = "Sound File Playback Application",
        ["app_stasis.so"] = "Stasis dialplan application",
        ["app_mixmonitor.so"] = "Mixed Audio Monitoring Application",
        ["app_chanspy.so"] = "Listen to the audio of an active channel",
        ["res_ari.so"] = "Asterisk RESTful Interface",
        ["res_stasis.so"] = "Stasis application support",
        ["chan_local.so"] = "Local Proxy Channel (Note: used internally by other modules)",
        ["cdr_manager.so"] = "Asterisk Manager Interface CDR Backend",
        ["cel_manager.so"] = "Asterisk Manager Interface CEL Backend",
        ["res_musiconhold.so"] = "Music On Hold Resource",
    };

    private PbxModel Model => _sim.Model;

    private HttpResponse Handle(HttpRequest request)
    {
        if (!request.Path.StartsWith("/ari/", StringComparison.Ordinal))
        {
            return HttpResponse.Error(404, "Not Found", "Resource not found");
        }

        if (!Authorised(request))
        {
            return Unauthorised();
        }

        var segments = request.Path[5..].Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        JsonElement? body = null;
        if (request.Body.Length > 0 && (request.Header("Content-Type") ?? "").Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                using var document = JsonDocument.Parse(request.Body);
                body = document.RootElement.Clone();
            }
            catch (JsonException)
            {
                return HttpResponse.Error(400, "Bad Request", "Error parsing request body");
            }
        }

        lock (_sim.Gate)
        {
            var response = Route(request, segments, body);
            Model.Settle();
            return response;
        }
    }

    private static string Param(HttpRequest request, JsonElement? body, string name)
    {
        if (request.Query.TryGetValue(name, out var value))
        {
            return value;
        }

        return body is { ValueKind: JsonValueKind.Object } b && b.TryGetProperty(name, out var property) && property.ValueKind == JsonValueKind.String
            ? property.GetString() ?? ""
            : "";
    }

    private static HttpResponse MethodNotAllowed(string allow) =>
        new(405, "Method Not Allowed", "{\"message\":\"Invalid method\"}", [new("Allow", allow)]);

    private HttpResponse Route(HttpRequest request, string[] s, JsonElement? body)
    {
        var method = request.Method;
        var notFound = HttpResponse.Error(404, "Not Found", "Resource not found");
        switch (s)
        {
            case ["asterisk", "info"] when method == "GET":
                return HttpResponse.Ok(AsteriskInfo(Param(request, body, "only")));
            case ["asterisk", "ping"] when method == "GET":
                return HttpResponse.Ok(AriJson.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("ping", "pong");
                    w.WriteString("timestamp", AriEvents.Time(_sim.Time.GetUtcNow()));
                    w.WriteString("asterisk_id", AriEvents.AsteriskId);
                    w.WriteEndObject();
                }));
            case ["asterisk", "variable"]:
                return GlobalVariable(request, body);
            case ["asterisk", "modules", var module] when method == "GET":
                return ModuleDescriptions.TryGetValue(module, out var description)
                    ? HttpResponse.Ok(AriJson.Write(w =>
                    {
                        w.WriteStartObject();
                        w.WriteString("name", module);
                        w.WriteString("description", description);
                        w.WriteNumber("use_count", 0);
                        w.WriteString("status", "Running");
                        w.WriteString("support_level", "core");
                        w.WriteEndObject();
                    }))
                    : HttpResponse.Error(404, "Not Found", "Module could not be found in running modules");
            case ["applications"] when method == "GET":
                return HttpResponse.Ok(AriJson.Write(w =>
                {
                    w.WriteStartArray();
                    foreach (var app in _sim.Ari.Names)
                    {
                        WriteApplication(w, app);
                    }

                    w.WriteEndArray();
                }));
            case ["applications", var name] when method == "GET":
                return _sim.Ari.HasApplication(name)
                    ? HttpResponse.Ok(AriJson.Write(w => WriteApplication(w, name)))
                    : HttpResponse.Error(404, "Not Found", "Application does not exist.");
            case ["channels"]:
                return method switch
                {
                    "GET" => HttpResponse.Ok(AriJson.Write(w =>
                    {
                        w.WriteStartArray();
                        foreach (var channel in Model.Channels.Values.OrderBy(c => c.Sequence))
                        {
                            AriEvents.WriteChannel(w, channel);
                        }

                        w.WriteEndArray();
                    })),
                    "POST" => Originate(request, body, createOnly: false),
                    _ => MethodNotAllowed("OPTIONS,GET,POST"),
                };
            case ["channels", "create"] when method == "POST":
                return Originate(request, body, createOnly: true);
            case ["channels", var id, .. var rest]:
                return ChannelResource(request, body, id, rest);
            case ["bridges"]:
                return method switch
                {
                    "GET" => HttpResponse.Ok(AriJson.Write(w =>
                    {
                        w.WriteStartArray();
                        foreach (var bridge in Model.Bridges.Values.OrderBy(b => b.CreatedAt))
                        {
                            AriEvents.WriteBridge(w, bridge);
                        }

                        w.WriteEndArray();
                    })),
                    "POST" => CreateBridge(request, body),
                    _ => MethodNotAllowed("OPTIONS,GET,POST"),
                };
            case ["bridges", var id, .. var rest]:
                return BridgeResource(request, body, id, rest);
            case ["endpoints"] when method == "GET":
                return HttpResponse.Ok(AriJson.Write(w =>
                {
                    w.WriteStartArray();
                    foreach (var endpoint in _sim.Endpoints.All)
                    {
                        WriteEndpoint(w, endpoint);
                    }

                    w.WriteEndArray();
                }));
            case ["endpoints", var tech] when method == "GET":
                return tech.Equals("PJSIP", StringComparison.OrdinalIgnoreCase)
                    ? HttpResponse.Ok(AriJson.Write(w =>
                    {
                        w.WriteStartArray();
                        foreach (var endpoint in _sim.Endpoints.All)
                        {
                            WriteEndpoint(w, endpoint);
                        }

                        w.WriteEndArray();
                    }))
                    : HttpResponse.Error(404, "Not Found", $"No Endpoints found - invalid tech {tech}");
            case ["deviceStates"] when method == "GET":
                return HttpResponse.Ok("[]");
            case ["sounds", var sound] when method == "GET":
                return Model.Sounds.Exists(sound)
                    ? HttpResponse.Ok(AriJson.Write(w =>
                    {
                        w.WriteStartObject();
                        w.WriteString("id", sound);
                        w.WriteStartArray("formats");
                        w.WriteStartObject();
                        w.WriteString("language", "en");
                        w.WriteString("format", "gsm");
                        w.WriteEndObject();
                        w.WriteEndArray();
                        w.WriteEndObject();
                    }))
                    : HttpResponse.Error(404, "Not Found", "Sound not found");
            case ["events", "user", var eventName] when method == "POST":
                return UserEvent(request, body, eventName);
            case ["playbacks", var playbackId] when method == "DELETE":
                return Model.StopAriPlayback(playbackId) ? HttpResponse.NoContent() : HttpResponse.Error(404, "Not Found", "Playback not found");
            case ["recordings", "live", var recordingName, .. var liveRest]:
                return LiveRecordingResource(method, recordingName, liveRest);
            case ["recordings", "stored"] when method == "GET":
                return HttpResponse.Ok(AriJson.Write(w =>
                {
                    w.WriteStartArray();
                    foreach (var (storedName, stored) in Model.StoredRecordings.OrderBy(r => r.Key, StringComparer.Ordinal))
                    {
                        WriteStoredRecording(w, storedName, stored.Format);
                    }

                    w.WriteEndArray();
                }));
            case ["recordings", "stored", var storedName] when method is "GET" or "DELETE":
                if (!Model.StoredRecordings.TryGetValue(storedName, out var storedRecording))
                {
                    return HttpResponse.Error(404, "Not Found", "Recording not found");
                }

                if (method == "DELETE")
                {
                    Model.DeleteStoredRecording(storedName);
                    return HttpResponse.NoContent();
                }

                return HttpResponse.Ok(AriJson.Write(w => WriteStoredRecording(w, storedName, storedRecording.Format)));
            default:
                return notFound;
        }
    }

    private string AsteriskInfo(string only)
    {
        var parts = only.Length == 0 ? ["build", "system", "config", "status"] : only.Split(',');
        return AriJson.Write(w =>
        {
            w.WriteStartObject();
            if (parts.Contains("build"))
            {
                w.WriteStartObject("build");
                w.WriteString("os", "Linux");
                w.WriteString("kernel", "6.12.44-generic");
                w.WriteString("machine", "x86_64");
                w.WriteString("options", "OPTIONAL_API");
                w.WriteString("date", "2026-11-22 16:20:42 UTC");
                w.WriteString("user", "root");
                w.WriteEndObject();
            }

            if (parts.Contains("system"))
            {
                w.WriteStartObject("system");
                w.WriteString("version", PbxSimulator.AsteriskVersion);
                w.WriteString("entity_id", AriEvents.AsteriskId);
                w.WriteEndObject();
            }

            if (parts.Contains("config"))
            {
                w.WriteStartObject("config");
                w.WriteString("name", _sim.Options.SystemName);
                w.WriteString("default_language", "en");
                w.WriteStartObject("setid");
                w.WriteString("user", "");
                w.WriteString("group", "");
                w.WriteEndObject();
                w.WriteNumber("max_channels", 500);
                w.WriteEndObject();
            }

            if (parts.Contains("status"))
            {
                w.WriteStartObject("status");
                w.WriteString("startup_time", AriEvents.Time(_sim.StartedAt));
                w.WriteString("last_reload_time", AriEvents.Time(_sim.LastReloadAt));
                w.WriteEndObject();
            }

            w.WriteEndObject();
        });
    }

    private void WriteApplication(Utf8JsonWriter w, string app)
    {
        w.WriteStartObject();
        w.WriteString("name", app);
        w.WriteStartArray("channel_ids");
        foreach (var channel in Model.Channels.Values.Where(c => c.StasisApp == app).OrderBy(c => c.Sequence))
        {
            w.WriteStringValue(channel.UniqueId);
        }

        w.WriteEndArray();
        w.WriteStartArray("bridge_ids");
        foreach (var bridge in Model.Bridges.Values.Where(b => b.AriApps.Contains(app)))
        {
            w.WriteStringValue(bridge.Id);
        }

        w.WriteEndArray();
        w.WriteStartArray("endpoint_ids");
        w.WriteEndArray();
        w.WriteStartArray("device_names");
        w.WriteEndArray();
        w.WriteStartArray("events_allowed");
        w.WriteEndArray();
        w.WriteStartArray("events_disallowed");
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private void WriteEndpoint(Utf8JsonWriter w, EndpointOptions endpoint)
    {
        w.WriteStartObject();
        w.WriteString("technology", "PJSIP");
        w.WriteString("resource", endpoint.Name);
        w.WriteString("state", endpoint.Registered ? "online" : "offline");
        w.WriteStartArray("channel_ids");
        foreach (var channel in Model.Channels.Values.Where(c => string.Equals(c.Endpoint, endpoint.Name, StringComparison.OrdinalIgnoreCase)))
        {
            w.WriteStringValue(channel.UniqueId);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private HttpResponse GlobalVariable(HttpRequest request, JsonElement? body)
    {
        var name = Param(request, body, "variable");
        if (name.Length == 0)
        {
            return HttpResponse.Error(400, "Bad Request", "Variable name is required");
        }

        switch (request.Method)
        {
            case "GET":
                return HttpResponse.Ok(AriJson.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("value", Model.ReadVariable(null, name));
                    w.WriteEndObject();
                }));
            case "POST":
                Model.SetVariable(null, name, Param(request, body, "value"));
                return HttpResponse.NoContent();
            default:
                return MethodNotAllowed("OPTIONS,GET,POST");
        }
    }

    private HttpResponse Originate(HttpRequest request, JsonElement? body, bool createOnly)
    {
        var endpoint = Param(request, body, "endpoint");
        if (endpoint.Length == 0)
        {
            return HttpResponse.Error(400, "Bad Request", "Endpoint must be specified");
        }

        var app = Param(request, body, "app");
        var extension = Param(request, body, "extension");
        if (!createOnly && app.Length == 0 && extension.Length == 0)
        {
            return HttpResponse.Error(400, "Bad Request", "Application or extension must be specified");
        }

        var channelId = Param(request, body, "channelId") is { Length: > 0 } id ? id : null;
        var otherId = Param(request, body, "otherChannelId") is { Length: > 0 } other ? other : null;
        var appArgs = Param(request, body, "appArgs");
        if (!PbxModel.TryParseLocal(endpoint, out var exten, out var context) && !endpoint.StartsWith("PJSIP/", StringComparison.OrdinalIgnoreCase))
        {
            return new HttpResponse(500, "Internal Server Error", "{\"error\":\"Allocation failed\"}");
        }

        if (createOnly)
        {
            if (!PbxModel.TryParseLocal(endpoint, out exten, out context))
            {
                return new HttpResponse(500, "Internal Server Error", "{\"error\":\"Allocation failed\"}");
            }

            string? createdSnapshot = null;
            Model.CreateForAri(exten, context, channelId, otherId, app, appArgs.Length > 0 ? appArgs.Split(',') : [],
                c => createdSnapshot = AriJson.Write(w => AriEvents.WriteChannel(w, c)));
            return HttpResponse.Ok(createdSnapshot!);
        }

        var variables = new List<KeyValuePair<string, string>>();
        if (body is { ValueKind: JsonValueKind.Object } b && b.TryGetProperty("variables", out var vars) && vars.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in vars.EnumerateObject())
            {
                variables.Add(new(property.Name, property.Value.ToString()));
            }
        }

        var (number, name) = Ami.AmiActions.ParseCallerId(Param(request, body, "callerId"));
        var timeout = int.TryParse(Param(request, body, "timeout"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) && t > 0 ? t : 30;
        Channel? one = null;
        string? snapshot = null;
        var originate = new OriginateRequest
        {
            ChannelText = endpoint,
            Application = app.Length > 0 ? "Stasis" : null,
            Data = app.Length > 0 ? string.Join(',', new[] { app }.Concat(appArgs.Length > 0 ? appArgs.Split(',') : [])) : null,
            Context = Param(request, body, "context") is { Length: > 0 } ctx ? ctx : "default",
            Exten = extension,
            Priority = int.TryParse(Param(request, body, "priority"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : 1,
            Async = false,
            OnCreated = (first, second) =>
            {
                one = first;
                // The dialplan half is the application's from the start; the originated half once it is dialled.
                if (app.Length > 0)
                {
                    (second ?? first).AriApps.Add(app);
                    (second ?? first).AriOriginated = true;
                }
            },
            OnDialling = first =>
            {
                snapshot = AriJson.Write(w => AriEvents.WriteChannel(w, first));
                if (app.Length > 0)
                {
                    first.AriApps.Add(app);
                    first.AriOriginated = true;
                }
            },
        };
        if (!Model.Originate(originate, variables, number, name, channelId, otherId ?? (channelId is null ? null : channelId + ";2"), TimeSpan.FromSeconds(timeout)) || one is null)
        {
            return new HttpResponse(500, "Internal Server Error", "{\"error\":\"Allocation failed\"}");
        }

        return HttpResponse.Ok(snapshot ?? AriJson.Write(w => AriEvents.WriteChannel(w, one)));
    }

    private HttpResponse ChannelResource(HttpRequest request, JsonElement? body, string id, string[] rest)
    {
        var method = request.Method;
        var channel = Model.FindChannelById(id);
        if (channel is null)
        {
            return rest is [] or ["play"] or ["play", _] or ["record"] or ["answer"] or ["ring"] or ["hold"] or ["moh"] or ["dtmf"] or ["dial"] or ["variable"] or ["snoop"] or ["mute"] or ["redirect"] or ["continue"]
                ? HttpResponse.Error(404, "Not Found", "Channel not found")
                : HttpResponse.Error(404, "Not Found", "Resource not found");
        }

        var inStasis = channel.StasisApp is not null;
        HttpResponse NotInStasis() => HttpResponse.Error(409, "Conflict", "Channel not in Stasis application");
        switch (rest)
        {
            case [] when method == "GET":
                return HttpResponse.Ok(AriJson.Write(w => AriEvents.WriteChannel(w, channel)));
            case [] when method == "DELETE":
                Model.HangupByRequest(channel, null, softCause: 32, defaultCause: 16);
                return HttpResponse.NoContent();
            case ["variable"] when method == "GET":
                var name = Param(request, body, "variable");
                if (name.Length == 0)
                {
                    return HttpResponse.Error(400, "Bad Request", "Variable name is required");
                }

                if (!channel.Variables.ContainsKey(name) && !name.Contains('(', StringComparison.Ordinal))
                {
                    return HttpResponse.Error(404, "Variable Not Found", "Provided variable was not found");
                }

                return HttpResponse.Ok(AriJson.Write(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("value", Model.ReadVariable(channel, name));
                    w.WriteEndObject();
                }));
            case ["variable"] when method == "POST":
                var variable = Param(request, body, "variable");
                if (variable.Length == 0)
                {
                    return HttpResponse.Error(400, "Bad Request", "Variable name is required");
                }

                var value = Param(request, body, "value");
                if (variable.Equals("CALLERID(name)", StringComparison.OrdinalIgnoreCase))
                {
                    Model.SetCallerId(channel, channel.CallerNum, value);
                }
                else if (variable.Equals("CALLERID(num)", StringComparison.OrdinalIgnoreCase))
                {
                    Model.SetCallerId(channel, value, channel.CallerName);
                }
                else
                {
                    Model.SetVariable(channel, variable, value);
                }

                return HttpResponse.NoContent();
        }

        if (!inStasis && rest is not ["dial"])
        {
            return NotInStasis();
        }

        switch (rest)
        {
            case ["answer"] when method == "POST":
                Model.Answer(channel);
                return HttpResponse.NoContent();
            case ["ring"] when method == "POST":
                Model.IndicateRinging(channel);
                return HttpResponse.NoContent();
            case ["ring"] when method == "DELETE":
                return HttpResponse.NoContent();
            case ["mute"] when method is "POST" or "DELETE":
                // Mute drops the audio in Asterisk; there is no event. Direction defaults to both.
                channel.Muted = method == "POST" ? (Param(request, body, "direction") is { Length: > 0 } direction ? direction : "both") : null;
                return HttpResponse.NoContent();
            case ["hold"] when method is "POST" or "DELETE":
                // Hold is indicated to the device: no ARI event (as recorded).
                channel.OnHold = method == "POST";
                return HttpResponse.NoContent();
            case ["moh"] when method == "POST":
                Model.StartMusicOnHold(channel, Param(request, body, "mohClass") is { Length: > 0 } moh ? moh : "default");
                return HttpResponse.NoContent();
            case ["moh"] when method == "DELETE":
                Model.StopMusicOnHold(channel);
                return HttpResponse.NoContent();
            case ["dtmf"] when method == "POST":
                var dtmf = Param(request, body, "dtmf");
                if (dtmf.Length == 0)
                {
                    return HttpResponse.Error(400, "Bad Request", "DTMF is required");
                }

                var duration = int.TryParse(Param(request, body, "duration"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) && ms > 0 ? ms : 100;
                foreach (var digit in dtmf)
                {
                    Model.PlayDtmfTo(channel, digit, duration);
                }

                return HttpResponse.NoContent();
            case ["play"] or ["play", _] when method == "POST":
                var media = Param(request, body, "media");
                if (media.Length == 0)
                {
                    return HttpResponse.Error(400, "Bad Request", "Missing parameter media");
                }

                // POST /channels/{id}/play/{playbackId} (playWithId) names the playback in the path.
                var playbackId = rest is [_, var named] ? named : Param(request, body, "playbackId") is { Length: > 0 } pid ? pid : Guid.NewGuid().ToString();
                // lang selects the sounds' language (Asterisk: the channel's own language when not given).
                var language = Param(request, body, "lang") is { Length: > 0 } lang ? lang : channel.Language;
                Model.AriPlayback(channel.StasisApp!, playbackId, media, "channel:" + channel.UniqueId, channel, language: language);
                return new HttpResponse(201, "Created", PlaybackJson(playbackId, media, "channel:" + channel.UniqueId, language), [new("Location", "/ari/playbacks/" + playbackId)]);
            case ["record"] when method == "POST":
                return Record(request, body, channel);
            case ["continue"] when method == "POST":
                if (!inStasis)
                {
                    return NotInStasis();
                }

                Model.ContinueFromStasis(channel, Param(request, body, "context"), Param(request, body, "extension"),
                    int.TryParse(Param(request, body, "priority"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var priority) ? priority : null);
                return HttpResponse.NoContent();
            case ["dial"] when method == "POST":
                if (channel.AriApps.Count == 0)
                {
                    return NotInStasis();
                }

                var callerId = Param(request, body, "caller");
                var caller = callerId.Length > 0 ? Model.FindChannelById(callerId) : null;
                var timeout = int.TryParse(Param(request, body, "timeout"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) ? seconds : 0;
                return Model.DialCreated(channel, caller, timeout)
                    ? HttpResponse.NoContent()
                    : HttpResponse.Error(409, "Conflict", "Channel is already being dialed");
            case ["snoop"] when method == "POST":
                return Snoop(request, body, channel);
            default:
                return HttpResponse.Error(404, "Not Found", "Resource not found");
        }
    }

    /// <summary><c>POST /channels/{id}/record</c> (ARI 10: 400 bad parameters, 409 bridged or name in use, 422 unknown format).</summary>
    private HttpResponse Record(HttpRequest request, JsonElement? body, Channel channel)
    {
        if (channel.StasisApp is null)
        {
            return HttpResponse.Error(409, "Conflict", "Channel not in Stasis application");
        }

        var name = Param(request, body, "name");
        var format = Param(request, body, "format");
        if (name.Length == 0 || format.Length == 0)
        {
            return HttpResponse.Error(400, "Bad Request", name.Length == 0 ? "Missing parameter name" : "Missing parameter format");
        }

        if (format is not ("wav" or "gsm" or "ulaw" or "alaw" or "sln"))
        {
            return HttpResponse.Error(422, "Unprocessable Entity", "Unknown format: " + format);
        }

        if (channel.Bridge is not null)
        {
            return HttpResponse.Error(409, "Conflict", "Channel is currently bridged");
        }

        if (Model.IsRecording(name) || (Param(request, body, "ifExists") is "" or "fail" && Model.StoredRecordings.ContainsKey(name)))
        {
            return HttpResponse.Error(409, "Conflict", "Recording with the same name already exists on the system");
        }

        var max = int.TryParse(Param(request, body, "maxDurationSeconds"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var m) && m > 0 ? m : 0;
        var terminateOn = Param(request, body, "terminateOn") is { Length: > 0 } keys ? keys : "none";
        Model.StartAriRecording(channel, name, format, max, terminateOn);
        return new HttpResponse(201, "Created", AriJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("format", format);
            w.WriteString("state", "queued");
            w.WriteString("target_uri", "channel:" + channel.UniqueId);
            w.WriteEndObject();
        }), [new("Location", "/ari/recordings/live/" + Uri.EscapeDataString(name))]);
    }

    private static void WriteStoredRecording(System.Text.Json.Utf8JsonWriter w, string name, string format)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WriteString("format", format);
        w.WriteEndObject();
    }

    private static string LiveRecordingJson(LiveRecording recording, string state) => AriJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("name", recording.Name);
        w.WriteString("format", recording.Format);
        w.WriteString("state", state);
        w.WriteString("target_uri", recording.TargetUri);
        w.WriteEndObject();
    });

    /// <summary>POST .../record on a bridge or a channel: 201 with the queued live recording, as recorded in ari/snoop.</summary>
    private HttpResponse StartRecording(HttpRequest request, JsonElement? body, string app, Bridge? bridge, Channel? channel)
    {
        var name = Param(request, body, "name");
        if (name.Length == 0)
        {
            return HttpResponse.Error(400, "Bad Request", "Missing parameter name");
        }

        var format = Param(request, body, "format");
        if (format.Length == 0)
        {
            return HttpResponse.Error(400, "Bad Request", "Missing parameter format");
        }

        if (format is not ("wav" or "gsm" or "ulaw" or "alaw" or "sln"))
        {
            return HttpResponse.Error(422, "Unprocessable Entity", "Unknown format: " + format);
        }

        var ifExists = Param(request, body, "ifExists") is { Length: > 0 } e ? e : "fail";
        if (Model.IsRecording(name) || (ifExists == "fail" && Model.StoredRecordings.ContainsKey(name)))
        {
            return HttpResponse.Error(409, "Conflict", "Recording with the same name already exists on the system");
        }

        var maxDuration = int.TryParse(Param(request, body, "maxDurationSeconds"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var max) ? max : 0;
        var recording = Model.StartRecording(app, name, format, bridge, channel, maxDuration);
        return new HttpResponse(201, "Created", LiveRecordingJson(recording, "queued"), [new("Location", "/ari/recordings/live/" + name)]);
    }

    private HttpResponse LiveRecordingResource(string method, string name, string[] rest)
    {
        if (!Model.LiveRecordings.TryGetValue(name, out var recording))
        {
            return HttpResponse.Error(404, "Not Found", "Recording not found");
        }

        switch (rest)
        {
            case [] when method == "GET":
                return HttpResponse.Ok(LiveRecordingJson(recording, recording.Paused ? "paused" : "recording"));
            case ["pause"] when method is "POST" or "DELETE":
                recording.Paused = method == "POST";
                return HttpResponse.NoContent();
            case [] when method == "DELETE":
                // Cancelled: the recording stops and nothing is kept.
                Model.StopRecording(recording);
                Model.DeleteStoredRecording(name);
                return HttpResponse.NoContent();
            case ["stop"] when method == "POST":
                Model.StopRecording(recording);
                return HttpResponse.NoContent();
            default:
                return HttpResponse.Error(404, "Not Found", "Resource not found");
        }
    }

    /// <summary>POST /channels/{id}/snoop: a Snoop channel in the application, answered with its snapshot.</summary>
    private HttpResponse Snoop(HttpRequest request, JsonElement? body, Channel channel)
    {
        var app = Param(request, body, "app");
        if (app.Length == 0)
        {
            return HttpResponse.Error(400, "Bad Request", "Missing parameter app");
        }

        string[] directions = ["none", "both", "out", "in"];
        var spy = Param(request, body, "spy") is { Length: > 0 } sp ? sp : "none";
        var whisper = Param(request, body, "whisper") is { Length: > 0 } wh ? wh : "none";
        if (!directions.Contains(spy) || !directions.Contains(whisper) || (spy == "none" && whisper == "none"))
        {
            return HttpResponse.Error(400, "Bad Request", "Invalid direction specified for spy/whisper");
        }

        if (!_sim.Ari.HasApplication(app))
        {
            return HttpResponse.Error(400, "Bad Request", "Application does not exist");
        }

        var args = Param(request, body, "appArgs") is { Length: > 0 } a ? a.Split(',') : [];
        var snoopId = Param(request, body, "snoopId") is { Length: > 0 } id ? id : null;
        string? snapshot = null;
        Model.Snoop(channel, app, args, snoopId, created => snapshot = AriJson.Write(w => AriEvents.WriteChannel(w, created)), spy, whisper);
        return HttpResponse.Ok(snapshot!);
    }

    private static string PlaybackJson(string id, string media, string target, string language = "en") => AriJson.Write(w =>
    {
        // Several media URIs (comma-joined): the first is the media_uri, the second the next one.
        var medias = PbxModel.SplitMedia(media);
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("media_uri", medias[0]);
        if (medias.Length > 1)
        {
            w.WriteString("next_media_uri", medias[1]);
        }

        w.WriteString("target_uri", target);
        w.WriteString("language", language);
        w.WriteString("state", "queued");
        w.WriteEndObject();
    });

    private HttpResponse CreateBridge(HttpRequest request, JsonElement? body)
    {
        var type = Param(request, body, "type");
        var id = Param(request, body, "bridgeId");
        var types = type.Length == 0 ? ["mixing"] : type.Split(',');
        if (types.Any(t => t is not ("mixing" or "holding" or "dtmf_events" or "proxy_media" or "video_sfu" or "video_single")))
        {
            return HttpResponse.Error(500, "Internal Error", $"Unable to create bridge. Possible duplicate bridge id '{(id.Length == 0 ? "(null)" : id)}'");
        }

        if (id.Length > 0 && Model.Bridges.ContainsKey(id))
        {
            return HttpResponse.Error(409, "Conflict", $"Bridge with id '{id}' already exists");
        }

        var holding = types.Contains("holding");
        var bridge = Model.CreateBridge(id.Length > 0 ? id : Guid.NewGuid().ToString(), "stasis", Param(request, body, "name"), "Stasis",
            createdByAri: true, bridgeClass: "stasis", ariType: holding ? "holding" : "mixing");
        foreach (var app in _sim.Ari.Names)
        {
            bridge.AriApps.Add(app);
        }

        return HttpResponse.Ok(AriJson.Write(w => AriEvents.WriteBridge(w, bridge)));
    }

    private HttpResponse BridgeResource(HttpRequest request, JsonElement? body, string id, string[] rest)
    {
        if (!Model.Bridges.TryGetValue(id, out var bridge))
        {
            return HttpResponse.Error(404, "Not Found", "Bridge not found");
        }

        switch (rest)
        {
            case [] when request.Method == "GET":
                return HttpResponse.Ok(AriJson.Write(w => AriEvents.WriteBridge(w, bridge)));
            case [] when request.Method == "DELETE":
                Model.DestroyBridge(bridge);
                return HttpResponse.NoContent();
            case ["addChannel" or "removeChannel"] when request.Method == "POST":
                var ids = Param(request, body, "channel");
                if (ids.Length == 0)
                {
                    return HttpResponse.Error(400, "Bad Request", "Missing parameter channel");
                }

                var channels = ids.Split(',').Select(Model.FindChannelById).ToList();
                if (channels.Any(c => c is null))
                {
                    return HttpResponse.Error(400, "Bad Request", "Channel not found");
                }

                if (channels.Any(c => c!.StasisApp is null))
                {
                    return HttpResponse.Error(422, "Unprocessable Entity", "Channel not in Stasis application");
                }

                foreach (var channel in channels)
                {
                    if (rest[0] == "addChannel")
                    {
                        Model.EnterBridge(channel!, bridge);
                    }
                    else if (channel!.Bridge == bridge)
                    {
                        Model.LeaveBridge(channel, bridge);
                    }
                }

                return HttpResponse.NoContent();
            case ["play"] when request.Method == "POST":
                var media = Param(request, body, "media");
                var playbackId = Param(request, body, "playbackId") is { Length: > 0 } pid ? pid : Guid.NewGuid().ToString();
                foreach (var app in bridge.AriApps)
                {
                    Model.AriPlayback(app, playbackId, media, "bridge:" + bridge.Id, null, bridge);
                }

                return new HttpResponse(201, "Created", PlaybackJson(playbackId, media, "bridge:" + bridge.Id), [new("Location", "/ari/playbacks/" + playbackId)]);
            case ["record"] when request.Method == "POST":
                return StartRecording(request, body, bridge.AriApps.FirstOrDefault() ?? "", bridge, null);
            case ["moh"] when request.Method is "POST" or "DELETE":
                foreach (var member in bridge.Members)
                {
                    if (request.Method == "POST")
                    {
                        Model.StartMusicOnHold(member, Param(request, body, "mohClass") is { Length: > 0 } moh ? moh : "default");
                    }
                    else
                    {
                        Model.StopMusicOnHold(member);
                    }
                }

                return HttpResponse.NoContent();
            default:
                return HttpResponse.Error(404, "Not Found", "Resource not found");
        }
    }

    private HttpResponse UserEvent(HttpRequest request, JsonElement? body, string eventName)
    {
        var app = Param(request, body, "application");
        if (app.Length == 0)
        {
            return HttpResponse.Error(400, "Bad Request", "Missing parameter application");
        }

        if (!_sim.Ari.HasApplication(app))
        {
            return HttpResponse.Error(404, "Not Found", "Application not found");
        }

        var source = Param(request, body, "source");
        var fields = new List<KeyValuePair<string, string>>();
        if (body is { ValueKind: JsonValueKind.Object } b && b.TryGetProperty("variables", out var vars) && vars.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in vars.EnumerateObject())
            {
                fields.Add(new(property.Name, property.Value.ToString()));
            }
        }

        if (source.Length == 0)
        {
            // No source: the event goes to the application alone (Asterisk publishes it on the app's
            // topic, behind every event published there before; call control uses it as a resync marker).
            _sim.AriEvents.ApplicationUserEvent(app, eventName, fields);
        }
        else if (source.StartsWith("channel:", StringComparison.Ordinal))
        {
            if (Model.FindChannelById(source[8..]) is not { } channel)
            {
                return HttpResponse.Error(422, "Unprocessable Entity", "Event source not found");
            }

            _sim.AriEvents.ChannelUserEvent(channel, eventName, fields);
        }

        return HttpResponse.NoContent();
    }
}
