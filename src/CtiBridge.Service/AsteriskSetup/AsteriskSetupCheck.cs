using System.Net.Sockets;
using CtiBridge.Asterisk.Ami;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Service.AsteriskSetup;

/// <summary>How a setup check ended.</summary>
public enum SetupCheckOutcome
{
    /// <summary>As CtiBridge needs it.</summary>
    Pass,

    /// <summary>Works, but something deserves a look (e.g. the app is not registered because the service is stopped).</summary>
    Warn,

    /// <summary>CtiBridge cannot work this way; the hint says what to change.</summary>
    Fail,
}

/// <summary>One line of <c>ctibridge check-asterisk</c>.</summary>
/// <param name="Server">The asterisk[] entry's name.</param>
/// <param name="Check">What was checked, e.g. <c>ami-login</c>.</param>
/// <param name="Outcome">Pass, warn or fail.</param>
/// <param name="Detail">What was found.</param>
/// <param name="Hint">What to change (for warnings and failures).</param>
public sealed record SetupCheckResult(string Server, string Check, SetupCheckOutcome Outcome, string Detail, string? Hint = null)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Server,-10} {(Outcome switch { SetupCheckOutcome.Pass => "ok  ", SetupCheckOutcome.Warn => "warn", _ => "FAIL" })} {Check,-16} {Detail}{(Hint is null ? string.Empty : $" -- {Hint}")}";
}

/// <summary>
/// Checks that an Asterisk server is set up the way CtiBridge needs it, without changing anything
/// on it: AMI reachable, login accepted, the write permissions CtiBridge uses, required modules,
/// ARI reachable with the configured user, the agents' phones, each inter-site trunk of
/// <c>asterisk[].trunks</c> (its endpoint exists and is reachable), and whether the Stasis app is registered.
/// </summary>
/// <param name="server">The asterisk[] entry to check.</param>
/// <param name="agentPhones">The agents' desk-phone endpoints (callControl.agents[].extension, e.g.
/// <c>PJSIP/1001</c>) that must exist on the server; none when call control is not configured.</param>
/// <param name="timeProvider">Clock for the clients (tests may pass a fake one).</param>
/// <param name="dids">The dialled numbers call control serves (callControl.dids[].number): the
/// dialplan must send each into <c>Stasis(app,inbound,DID)</c>; none when call control is not configured.</param>
/// <param name="severalServers">Whether the deployment has more than one asterisk[] entry: then each server
/// needs its own asterisk.conf <c>systemname</c> (the <c>system-name</c> line), because channel ids are
/// <c>[systemname-]epoch.seq</c> and two servers without one can hand out the same id in the same second.</param>
public sealed class AsteriskSetupCheck(AsteriskServerSettings server, IReadOnlyList<string>? agentPhones = null, TimeProvider? timeProvider = null, IReadOnlyList<string>? dids = null, bool severalServers = false)
{
    /// <summary>Modules CtiBridge cannot work without (asterisk-config/modules.conf requires more).</summary>
    public static IReadOnlyList<string> RequiredModules { get; } =
        ["res_ari.so", "res_stasis.so", "app_stasis.so", "app_mixmonitor.so", "res_musiconhold.so"];

    // A probe per AMI write class: an action that needs the class, sent without its required
    // fields, so Asterisk either refuses it ("Permission denied") or rejects the missing field —
    // nothing is ever changed on the PBX.
    private static readonly (string Class, string Action, string Why)[] WriteProbes =
    [
        ("originate", "Originate", "agent legs, the dialer, click-to-dial and callbacks"),
        ("call", "Redirect", "transfers, hang-ups and DTMF"),
        ("system", "ModuleCheck", "recordings (MixMonitor) and module checks"),
        ("agent", "QueuePause", "queue member control while app_queue is kept"),
        ("user", "UserEvent", "supervisor markers"),
    ];

    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>
    /// The server's asterisk.conf <c>systemname</c> as ARI reported it during <see cref="RunAsync"/>
    /// (empty when none is set); null when ARI could not be asked. <c>check-asterisk</c> compares the
    /// servers' names with each other.
    /// </summary>
    public string? SystemName { get; private set; }

    /// <summary>Runs every check in order; a failed prerequisite skips the checks that need it.</summary>
    public async Task<IReadOnlyList<SetupCheckResult>> RunAsync(CancellationToken cancellationToken = default)
    {
        var results = new List<SetupCheckResult>();
        await CheckAmiAsync(results, cancellationToken).ConfigureAwait(false);
        await CheckAriAsync(results, cancellationToken).ConfigureAwait(false);
        return results;
    }

    private SetupCheckResult Result(string check, SetupCheckOutcome outcome, string detail, string? hint = null) => new(server.Name, check, outcome, detail, hint);

    private async Task CheckAmiAsync(List<SetupCheckResult> results, CancellationToken cancellationToken)
    {
        var ami = server.Ami;
        using (var tcp = new TcpClient())
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            try
            {
                await tcp.ConnectAsync(ami.Host, ami.Port, timeout.Token).ConfigureAwait(false);
                results.Add(Result("ami-reachable", SetupCheckOutcome.Pass, $"{ami.Host}:{ami.Port} accepts connections"));
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                results.Add(Result("ami-reachable", SetupCheckOutcome.Fail, $"{ami.Host}:{ami.Port} does not answer ({(ex is SocketException s ? s.SocketErrorCode.ToString() : "timed out")})",
                    "is Asterisk running? manager.conf [general] needs enabled = yes and bindaddr/port matching asterisk[].ami.host/port; check firewalls"));
                return;
            }
        }

        var options = AsteriskServer.ToAmiOptions(ami) with { MaxReconnectAttempts = 0, Events = "off", ConnectTimeout = TimeSpan.FromSeconds(5) };
        await using var client = new AmiClient(options, NullLogger<AmiClient>.Instance, _time);
        try
        {
            await client.StartAsync(cancellationToken).ConfigureAwait(false);
            results.Add(Result("ami-login", SetupCheckOutcome.Pass, $"logged in as '{ami.Username}' ({client.ProtocolVersion}, {(ami.UseMd5Login ? "MD5 challenge" : "plaintext secret")})"));
        }
        catch (Exception ex) when (ex is AmiLoginException or AmiConnectionException)
        {
            results.Add(Result("ami-login", SetupCheckOutcome.Fail, $"login as '{ami.Username}' refused: {ex.Message}",
                $"asterisk[].ami.username/secret must match a manager.conf [{ami.Username}] section, whose permit= must include this host"));
            return;
        }

        var missing = new List<string>();
        foreach (var probe in WriteProbes)
        {
            var answer = await client.SendAsync(new AmiAction(probe.Action), cancellationToken).ConfigureAwait(false);
            if (string.Equals(answer["Message"], "Permission denied", StringComparison.OrdinalIgnoreCase))
            {
                missing.Add($"{probe.Class} ({probe.Why})");
            }
        }

        results.Add(missing.Count == 0
            ? Result("ami-permissions", SetupCheckOutcome.Pass, $"write classes {string.Join(",", WriteProbes.Select(p => p.Class))} granted")
            : Result("ami-permissions", SetupCheckOutcome.Fail, $"write class(es) not granted: {string.Join("; ", missing)}",
                $"manager.conf [{ami.Username}] write = system,call,originate,agent,user,reporting"));

        var notLoaded = new List<string>();
        foreach (var module in RequiredModules)
        {
            var answer = await client.SendAsync(new AmiAction("ModuleCheck").Add("Module", module), cancellationToken).ConfigureAwait(false);
            if (!string.Equals(answer["Response"], "Success", StringComparison.OrdinalIgnoreCase))
            {
                notLoaded.Add(module);
            }
        }

        results.Add(notLoaded.Count == 0
            ? Result("modules", SetupCheckOutcome.Pass, $"{string.Join(", ", RequiredModules)} loaded")
            : missing.Any(m => m.StartsWith("system", StringComparison.Ordinal))
                ? Result("modules", SetupCheckOutcome.Warn, "not checked: ModuleCheck needs the system write class", "grant it (see ami-permissions)")
                : Result("modules", SetupCheckOutcome.Fail, $"not loaded: {string.Join(", ", notLoaded)}",
                    $"load them ('module load {notLoaded[0]}') and add 'require = ...' lines to modules.conf (see asterisk-config/modules.conf)"));

        await CheckDidRoutingAsync(client, results, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the dialplan with <c>ShowDialPlan</c> (write class reporting or config) and follows each
    /// configured DID to <c>Stasis(app,inbound,DID)</c>.
    /// </summary>
    private async Task CheckDidRoutingAsync(AmiClient client, List<SetupCheckResult> results, CancellationToken cancellationToken)
    {
        if (dids is not { Count: > 0 })
        {
            return;
        }

        var app = server.Ari.Application;
        var list = await client.SendListAsync(new AmiAction("ShowDialPlan"), cancellationToken).ConfigureAwait(false);
        if (!string.Equals(list.Response["Response"], "Success", StringComparison.OrdinalIgnoreCase))
        {
            results.Add(string.Equals(list.Response["Message"], "Permission denied", StringComparison.OrdinalIgnoreCase)
                ? Result("did-routing", SetupCheckOutcome.Warn, "not checked: reading the dialplan (ShowDialPlan) needs the reporting write class",
                    $"manager.conf [{server.Ami.Username}] write = system,call,originate,agent,user,reporting")
                : Result("did-routing", SetupCheckOutcome.Warn, $"not checked: ShowDialPlan answered '{list.Response["Message"]}'"));
            return;
        }

        var priorities = list.Items
            .Where(i => string.Equals(i["Event"], "ListDialplan", StringComparison.OrdinalIgnoreCase) && i["Extension"] is not null
                && int.TryParse(i["Priority"], System.Globalization.CultureInfo.InvariantCulture, out _))
            .Select(i => new DialplanPriority(i["Context"] ?? "", i["Extension"]!, int.Parse(i["Priority"]!, System.Globalization.CultureInfo.InvariantCulture), i["Application"] ?? "", i["AppData"] ?? ""))
            .ToList();
        var routes = new DialplanRoutes(priorities);
        var reached = new List<string>();
        foreach (var did in dids)
        {
            var route = routes.Follow(did, app);
            if (route.Reaches)
            {
                reached.Add($"{did} ({route.Detail})");
            }
            else
            {
                results.Add(Result("did-routing", SetupCheckOutcome.Fail, $"DID {did} does not reach Stasis({app},inbound,{did}): {route.Detail}",
                    $"in the trunk's context (asterisk-config/extensions.conf [from-carrier]): exten => {did},1,Stasis({app},inbound,${{EXTEN}}) -- or a pattern matching it, such as _X."));
            }
        }

        if (reached.Count == dids.Count)
        {
            results.Add(Result("did-routing", SetupCheckOutcome.Pass, $"{reached.Count} DID(s) reach Stasis({app},inbound,<DID>): {string.Join(", ", reached)}"));
        }
    }

    private async Task CheckAriAsync(List<SetupCheckResult> results, CancellationToken cancellationToken)
    {
        var ari = server.Ari;
        var options = AsteriskServer.ToAriOptions(ari) with { RequestTimeout = TimeSpan.FromSeconds(5) };
        using var client = new AriClient(options, timeProvider: _time);
        try
        {
            var info = await client.Asterisk.GetInfoAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            results.Add(Result("ari-reachable", SetupCheckOutcome.Pass, $"{ari.BaseUrl} answers for user '{ari.Username}' (Asterisk {info.System?.Version ?? "?"})"));
            SystemName = info.Config?.Name ?? string.Empty;
            if (severalServers && SystemName.Length == 0)
            {
                // Call control knows channels by server and id, so both callers are served; but Asterisk's own
                // records of the two servers (CDR uniqueid, queue_log, CEL) and the logs could not be told apart.
                results.Add(Result("system-name", SetupCheckOutcome.Fail, "no systemname is set: with several servers, two of them can give a channel the same id (epoch.seq) in the same second",
                    $"in asterisk.conf [options] on '{server.Name}': systemname = {server.Name} (a name no other server uses), then restart Asterisk"));
            }
            else if (severalServers)
            {
                results.Add(Result("system-name", SetupCheckOutcome.Pass, $"systemname '{SystemName}': channel ids start with '{SystemName}-'"));
            }
        }
        catch (AriRequestException ex) when (ex.StatusCode == 401)
        {
            results.Add(Result("ari-reachable", SetupCheckOutcome.Fail, $"{ari.BaseUrl} refused user '{ari.Username}' (401)",
                $"asterisk[].ari.username/password must match an ari.conf [{ari.Username}] section with type = user"));
            return;
        }
        catch (AriException ex)
        {
            results.Add(Result("ari-reachable", SetupCheckOutcome.Fail, $"{ari.BaseUrl} does not answer: {ex.Message}",
                "http.conf needs enabled = yes with bindaddr/bindport matching asterisk[].ari.baseUrl, and ari.conf enabled = yes"));
            return;
        }

        await CheckAgentPhonesAsync(client, results, cancellationToken).ConfigureAwait(false);
        await CheckSiteTrunksAsync(client, results, cancellationToken).ConfigureAwait(false);

        try
        {
            await client.Applications.GetAsync(ari.Application, cancellationToken).ConfigureAwait(false);
            results.Add(Result("ari-app", SetupCheckOutcome.Pass, $"Stasis app '{ari.Application}' is registered (a CtiBridge service is connected)"));
        }
        catch (AriRequestException ex) when (ex.StatusCode == 404)
        {
            results.Add(Result("ari-app", SetupCheckOutcome.Warn, $"Stasis app '{ari.Application}' is not registered right now",
                "it registers while 'ctibridge run' is connected; until then Stasis() fails (the sample dialplan holds a caller ringing and retries every second for STASIS_TRIES_MAX s), then the dialplan's fallback context takes the call"));
        }
    }

    private async Task CheckAgentPhonesAsync(AriClient client, List<SetupCheckResult> results, CancellationToken cancellationToken)
    {
        if (agentPhones is not { Count: > 0 })
        {
            return;
        }

        var missing = new List<string>();
        var offline = new List<string>();
        foreach (var technology in agentPhones.Select(p => p.Split('/', 2)).GroupBy(p => p[0], StringComparer.OrdinalIgnoreCase))
        {
            IReadOnlyList<CtiBridge.Asterisk.Ari.Models.Endpoint> known;
            try
            {
                known = await client.Endpoints.ListByTechAsync(technology.Key, cancellationToken).ConfigureAwait(false);
            }
            catch (AriRequestException ex) when (ex.StatusCode == 404)
            {
                // Asterisk answers 404 for a technology with no endpoints at all (or no driver loaded).
                known = [];
            }

            foreach (var phone in technology)
            {
                var endpoint = known.FirstOrDefault(e => phone.Length == 2 && string.Equals(e.Resource, phone[1], StringComparison.OrdinalIgnoreCase));
                if (endpoint is null)
                {
                    missing.Add(string.Join('/', phone));
                }
                else if (!string.Equals(endpoint.State, "online", StringComparison.OrdinalIgnoreCase))
                {
                    offline.Add($"{string.Join('/', phone)} ({endpoint.State ?? "unknown"})");
                }
            }
        }

        results.Add(missing.Count > 0
            ? Result("agent-phones", SetupCheckOutcome.Fail, $"no such endpoint: {string.Join(", ", missing)}",
                "each callControl.agents[].extension needs its own endpoint in pjsip.conf (see asterisk-config/pjsip.conf)")
            : offline.Count > 0
                ? Result("agent-phones", SetupCheckOutcome.Warn, $"not registered now: {string.Join(", ", offline)}",
                    "the desk phone is off or cannot reach Asterisk; its agent is skipped until it registers")
                : Result("agent-phones", SetupCheckOutcome.Pass, $"{agentPhones.Count} agent phone(s) exist and are registered"));
    }

    /// <summary>
    /// Each inter-site trunk (<c>asterisk[].trunks[]</c>, docs/sites.md): the endpoint its dial
    /// string goes through must exist on this server and be reachable (ARI's endpoint state: online
    /// once registered or qualified), or spanning queues cannot ring the other site's agents.
    /// </summary>
    private async Task CheckSiteTrunksAsync(AriClient client, List<SetupCheckResult> results, CancellationToken cancellationToken)
    {
        var byTechnology = new Dictionary<string, IReadOnlyList<CtiBridge.Asterisk.Ari.Models.Endpoint>>(StringComparer.OrdinalIgnoreCase);
        foreach (var trunk in server.Trunks)
        {
            var what = $"trunk to '{trunk.To}' ({trunk.Dial})";
            if (TrunkEndpoint(trunk.Dial) is not { } endpoint)
            {
                results.Add(Result("site-trunk", SetupCheckOutcome.Warn, $"{what}: not checked, the dial string names no endpoint ARI lists (PJSIP, IAX2 or SIP)",
                    $"make sure '{server.Name}' can dial it (e.g. 'channel originate {trunk.Dial.Replace("{resource}", "1001", StringComparison.Ordinal)} application Echo' on its console)"));
                continue;
            }

            if (!byTechnology.TryGetValue(endpoint.Technology, out var known))
            {
                try
                {
                    known = await client.Endpoints.ListByTechAsync(endpoint.Technology, cancellationToken).ConfigureAwait(false);
                }
                catch (AriRequestException ex) when (ex.StatusCode == 404)
                {
                    known = [];   // no endpoint of that technology at all (or its driver is not loaded)
                }

                byTechnology[endpoint.Technology] = known;
            }

            var name = $"{endpoint.Technology}/{endpoint.Resource}";
            var found = known.FirstOrDefault(e => string.Equals(e.Resource, endpoint.Resource, StringComparison.OrdinalIgnoreCase));
            if (found is null)
            {
                results.Add(Result("site-trunk", SetupCheckOutcome.Fail, $"{what}: no endpoint {name} on this server",
                    endpoint.Technology.Equals("PJSIP", StringComparison.OrdinalIgnoreCase)
                        ? $"add the trunk to '{trunk.To}' to pjsip.conf on '{server.Name}' (endpoint + aor + registration/identify named '{endpoint.Resource}', see asterisk-config/pjsip.conf [site-b]) or correct the dial string"
                        : $"add a peer '{endpoint.Resource}' for '{trunk.To}' to {(endpoint.Technology == "IAX2" ? "iax.conf" : "sip.conf")} on '{server.Name}', or correct the dial string"));
            }
            else if (string.Equals(found.State, "online", StringComparison.OrdinalIgnoreCase))
            {
                results.Add(Result("site-trunk", SetupCheckOutcome.Pass, $"{what}: endpoint {name} exists and is reachable (online)"));
            }
            else if (found.State is null || string.Equals(found.State, "unknown", StringComparison.OrdinalIgnoreCase))
            {
                results.Add(Result("site-trunk", SetupCheckOutcome.Warn, $"{what}: endpoint {name} exists, reachability unknown (state '{found.State ?? "none"}')",
                    $"set qualify_frequency on its aor (pjsip.conf) so '{server.Name}' probes '{trunk.To}' and knows when the trunk is down"));
            }
            else
            {
                results.Add(Result("site-trunk", SetupCheckOutcome.Fail, $"{what}: endpoint {name} exists but is {found.State} (not registered, or '{trunk.To}' does not answer)",
                    $"on '{server.Name}': 'pjsip show endpoint {endpoint.Resource}' and 'pjsip show registrations'; '{trunk.To}' must be up, reachable through firewalls, and accept this server (its own trunk endpoint with identify/auth and a context that dials its phones, docs/sites.md); until then spanning queues cannot ring agents on '{trunk.To}'"));
            }
        }
    }

    /// <summary>
    /// The endpoint a trunk's dial string goes through: <c>PJSIP/{resource}@site-b</c> and
    /// <c>PJSIP/site-b/...</c> → PJSIP <c>site-b</c>; <c>IAX2/site-b/{resource}</c> (or
    /// <c>IAX2/user:secret@site-b/...</c>) and <c>SIP/site-b/...</c> → that peer; null for anything
    /// else (DAHDI groups, Local channels, a placeholder where the endpoint should be).
    /// </summary>
    internal static (string Technology, string Resource)? TrunkEndpoint(string dial)
    {
        var slash = dial.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0)
        {
            return null;
        }

        var technology = dial[..slash];
        var rest = dial[(slash + 1)..];
        string resource;
        if (technology.Equals("PJSIP", StringComparison.OrdinalIgnoreCase))
        {
            // PJSIP/<dest>@<endpoint> (Asterisk's usual form) or PJSIP/<endpoint>/<dest> (PbxSim's, and Asterisk's with a URI).
            var firstSlash = rest.IndexOf('/', StringComparison.Ordinal);
            var at = rest.IndexOf('@', StringComparison.Ordinal);
            resource = at >= 0 && (firstSlash < 0 || at < firstSlash) ? rest[(at + 1)..].Split('/', 2)[0] : rest.Split('/', 2)[0];
        }
        else if (technology.Equals("IAX2", StringComparison.OrdinalIgnoreCase) || technology.Equals("SIP", StringComparison.OrdinalIgnoreCase))
        {
            var peer = rest.Split('/', 2)[0];
            resource = peer[(peer.LastIndexOf('@') + 1)..];
        }
        else
        {
            return null;
        }

        return resource.Length == 0 || resource.Contains('{', StringComparison.Ordinal) || resource.Contains(':', StringComparison.Ordinal)
            ? null
            : (technology.ToUpperInvariant(), resource);
    }
}
