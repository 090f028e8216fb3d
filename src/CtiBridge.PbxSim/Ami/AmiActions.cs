using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CtiBridge.PbxSim.Ami;

/// <summary>
/// The AMI actions PbxSim answers, each with the write permission Asterisk requires for it and
/// Asterisk's exact response wording.
/// </summary>
internal sealed partial class AmiActions
{
    private delegate Task ActionHandler(AmiSession session, AmiMessage action, string? actionId, CancellationToken cancellationToken);

    private readonly Dictionary<string, (AmiPrivilege Authority, ActionHandler Handler)> _handlers = new(StringComparer.OrdinalIgnoreCase);
    private readonly PbxSimulator _sim;
    private readonly AmiServer _server;

    public AmiActions(PbxSimulator simulator, AmiServer server)
    {
        _sim = simulator;
        _server = server;
        Register("Login", AmiPrivilege.None, LoginAsync);
        Register("Challenge", AmiPrivilege.None, Challenge);
        Register("Logoff", AmiPrivilege.None, Logoff);
        Register("Ping", AmiPrivilege.None, Ping);
        Register("Events", AmiPrivilege.None, Events);
        Register("Command", AmiPrivilege.Command, Command);
        Register("CoreSettings", AmiPrivilege.System | AmiPrivilege.Reporting, CoreSettings);
        Register("CoreStatus", AmiPrivilege.System | AmiPrivilege.Reporting, CoreStatus);
        Register("UserEvent", AmiPrivilege.User, UserEvent);
        Register("ModuleCheck", AmiPrivilege.System, ModuleCheck);
        RegisterModelActions();
        Register("ShowDialPlan", AmiPrivilege.Config | AmiPrivilege.Reporting, ShowDialPlan);
    }

    private void Register(string name, AmiPrivilege authority, ActionHandler handler) => _handlers[name] = (authority, handler);

    private void Register(string name, AmiPrivilege authority, Action<AmiSession, AmiMessage, string?> handler) =>
        _handlers[name] = (authority, (s, a, id, _) =>
        {
            handler(s, a, id);
            return Task.CompletedTask;
        });

    public async Task ExecuteAsync(AmiSession session, AmiMessage action, CancellationToken cancellationToken)
    {
        var name = action["Action"];
        var actionId = action["ActionID"];
        if (string.IsNullOrEmpty(name))
        {
            session.Send(Error(actionId, "Missing action in request"));
            return;
        }

        if (!session.Authenticated && !IsOneOf(name, "Login", "Logoff", "Challenge"))
        {
            _sim.Security.RequestNotAllowed(session, name);
            session.Send(Error(actionId, "Permission denied"));
            return;
        }

        if (!_handlers.TryGetValue(name, out var entry))
        {
            session.Send(Error(actionId, $"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands."));
            return;
        }

        if (entry.Authority != AmiPrivilege.None && (session.WritePermission & entry.Authority) == 0)
        {
            session.Send(Error(actionId, "Permission denied"));
            return;
        }

        await entry.Handler(session, action, actionId, cancellationToken);
    }

    internal static AmiMessage Error(string? actionId, string message) =>
        new AmiMessage(3).Add("Response", "Error").AddIfPresent("ActionID", actionId).Add("Message", message);

    internal static AmiMessage Success(string? actionId, string message) =>
        new AmiMessage(3).Add("Response", "Success").AddIfPresent("ActionID", actionId).Add("Message", message);

    internal static AmiMessage Success(string? actionId) =>
        new AmiMessage(3).Add("Response", "Success").AddIfPresent("ActionID", actionId);

    private static bool IsOneOf(string name, params string[] names) =>
        Array.Exists(names, n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));

    private async Task LoginAsync(AmiSession session, AmiMessage action, string? actionId, CancellationToken cancellationToken)
    {
        if (session.Authenticated)
        {
            session.Send(Success(actionId, "Already authenticated"));
            return;
        }

        var username = action["Username"] ?? string.Empty;
        var user = _sim.Options.AmiUsers.Find(u => string.Equals(u.Username, username, StringComparison.OrdinalIgnoreCase));
        var md5 = string.Equals(action["AuthType"], "MD5", StringComparison.OrdinalIgnoreCase);
        bool accepted;
        if (user is null)
        {
            accepted = false;
            _sim.Security.InvalidAccountId(session, username);
        }
        else if (md5)
        {
            var expected = session.Challenge is null ? null : Md5Hex(session.Challenge + user.Secret);
            var key = action["Key"] ?? string.Empty;
            accepted = expected is not null && string.Equals(key, expected, StringComparison.OrdinalIgnoreCase);
            if (!accepted)
            {
                _sim.Security.ChallengeResponseFailed(session, session.Challenge ?? string.Empty, key, expected ?? string.Empty);
            }
        }
        else
        {
            accepted = string.Equals(action["Secret"], user.Secret, StringComparison.Ordinal);
            if (!accepted)
            {
                _sim.Security.InvalidPassword(session, user.Username);
            }
        }

        if (!accepted || _server.RefuseLogins)
        {
            // Asterisk sleeps a second before answering a failed login, then hangs up.
            await Task.Delay(_sim.Options.FailedLoginDelay, _sim.Time, cancellationToken);
            session.Send(Error(actionId, "Authentication failed"));
            session.CloseAfterFlush();
            return;
        }

        var events = action["Events"];
        session.ReadPermission = AmiPrivileges.Parse(user!.Read);
        session.WritePermission = AmiPrivileges.Parse(user.Write);
        if (events is not null && TryParseEventMask(events, out var mask))
        {
            session.EventMask = mask;
        }

        session.AuthenticatedAt = _sim.Time.GetUtcNow();
        lock (_sim.Gate)
        {
            session.User = user;
            session.Send(Success(actionId, "Authentication accepted"));
            if (session.Wants(AmiPrivilege.System))
            {
                var uptime = (long)(_sim.Time.GetUtcNow() - _sim.StartedAt).TotalSeconds;
                var reload = (long)(_sim.Time.GetUtcNow() - _sim.LastReloadAt).TotalSeconds;
                session.Send(new AmiMessage(5)
                    .Add("Event", "FullyBooted")
                    .Add("Privilege", AmiPrivileges.EventHeader(AmiPrivilege.System))
                    .Add("Uptime", uptime.ToString(CultureInfo.InvariantCulture))
                    .Add("LastReload", reload.ToString(CultureInfo.InvariantCulture))
                    .Add("Status", "Fully Booted"));
            }

            _sim.Security.SuccessfulAuth(session);
        }
    }

    /// <summary>Asterisk's <c>Events:</c> values: on/yes/true, off/no/false, or a list of classes.</summary>
    private static bool TryParseEventMask(string value, out AmiPrivilege mask)
    {
        var text = value.Trim();
        if (IsOneOf(text, "on", "yes", "true"))
        {
            mask = AmiPrivilege.All;
            return true;
        }

        if (IsOneOf(text, "off", "no", "false"))
        {
            mask = AmiPrivilege.None;
            return true;
        }

        try
        {
            mask = AmiPrivileges.Parse(text);
            return true;
        }
        catch (FormatException)
        {
            mask = AmiPrivilege.None;
            return false;
        }
    }

    internal static string Md5Hex(string text)
    {
#pragma warning disable CA5351 // AMI's challenge login is defined as MD5; PbxSim must speak it.
        var hash = MD5.HashData(Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5351
        return Convert.ToHexStringLower(hash);
    }

    private void Challenge(AmiSession session, AmiMessage action, string? actionId)
    {
        if (!string.Equals(action["AuthType"], "MD5", StringComparison.OrdinalIgnoreCase))
        {
            session.Send(Error(actionId, "Must specify AuthType"));
            return;
        }

        session.Challenge ??= _sim.NextRandom().ToString(CultureInfo.InvariantCulture);
        session.Send(Success(actionId).Add("Challenge", session.Challenge));
    }

    private static void Logoff(AmiSession session, AmiMessage action, string? actionId)
    {
        session.Send(new AmiMessage(3).Add("Response", "Goodbye").AddIfPresent("ActionID", actionId).Add("Message", "Thanks for all the fish."));
        session.CloseAfterFlush();
    }

    private void Ping(AmiSession session, AmiMessage action, string? actionId)
    {
        var now = _sim.Time.GetUtcNow();
        var micros = (now.ToUnixTimeMilliseconds() * 1000) + (now.Ticks / 10 % 1000);
        var timestamp = AmiServer.Invariant($"{micros / 1_000_000}.{micros % 1_000_000:D6}");
        session.Send(Success(actionId).Add("Ping", "Pong").Add("Timestamp", timestamp));
    }

    private static void Events(AmiSession session, AmiMessage action, string? actionId)
    {
        if (!TryParseEventMask(action["EventMask"] ?? string.Empty, out var mask))
        {
            session.Send(Error(actionId, "Invalid event mask"));
            return;
        }

        session.EventMask = mask;
        session.Send(Success(actionId).Add("Events", mask == AmiPrivilege.None ? "Off" : "On"));
    }

    private void CoreSettings(AmiSession session, AmiMessage action, string? actionId) =>
        session.Send(Success(actionId)
            .Add("AMIversion", "11.0.0")
            .Add("AsteriskVersion", PbxSimulator.AsteriskVersion)
            .Add("SystemName", _sim.Options.SystemName)
            .Add("CoreMaxCalls", "500")
            .Add("CoreMaxLoadAvg", "0.000000")
            .Add("CoreRunUser", "")
            .Add("CoreRunGroup", "")
            .Add("CoreMaxFilehandles", "0")
            .Add("CoreRealTimeEnabled", "No")
            .Add("CoreCDRenabled", "Yes")
            .Add("CoreHTTPenabled", "No")
            .Add("SoundsSearchCustomDir", "No"));

    private void CoreStatus(AmiSession session, AmiMessage action, string? actionId)
    {
        int current;
        long processed;
        lock (_sim.Gate)
        {
            current = _sim.Model.Channels.Count;
            processed = _sim.Model.ProcessedCalls;
        }

        session.Send(Success(actionId)
            .Add("CoreStartupDate", _sim.StartedAt.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))
            .Add("CoreStartupTime", _sim.StartedAt.ToString("HH:mm:ss", CultureInfo.InvariantCulture))
            .Add("CoreReloadDate", _sim.LastReloadAt.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))
            .Add("CoreReloadTime", _sim.LastReloadAt.ToString("HH:mm:ss", CultureInfo.InvariantCulture))
            .Add("CoreCurrentCalls", current.ToString(CultureInfo.InvariantCulture))
            .Add("CoreProcessedCalls", processed.ToString(CultureInfo.InvariantCulture)));
    }

    private void UserEvent(AmiSession session, AmiMessage action, string? actionId)
    {
        var name = action["UserEvent"];
        if (string.IsNullOrEmpty(name))
        {
            session.Send(Error(actionId, "Missing UserEvent"));
            return;
        }

        // Asterisk puts UserEvent first, then forwards every other header (ActionID included) in order.
        var message = new AmiMessage().Add("Event", "UserEvent").Add("Privilege", AmiPrivileges.EventHeader(AmiPrivilege.User)).Add("UserEvent", name);
        foreach (var header in action.Headers)
        {
            if (!IsOneOf(header.Key, "Action", "UserEvent"))
            {
                message.Add(header.Key, header.Value);
            }
        }

        lock (_sim.Gate)
        {
            session.Send(Success(actionId, "Event Sent"));
            _server.Publish(AmiPrivilege.User, message);
        }
    }

    private static void ModuleCheck(AmiSession session, AmiMessage action, string? actionId)
    {
        var module = action["Module"];
        if (string.IsNullOrEmpty(module))
        {
            session.Send(Error(actionId, "Module name missing"));
            return;
        }

        var known = PbxSimulator.LoadedModules.Contains(module.EndsWith(".so", StringComparison.Ordinal) ? module : module + ".so");
        session.Send(known ? Success(actionId).Add("Version", "") : Error(actionId, "Module not loaded"));
    }
}
