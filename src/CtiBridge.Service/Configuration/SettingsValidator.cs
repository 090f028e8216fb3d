using System.Text.RegularExpressions;
using Npgsql;

namespace CtiBridge.Service.Configuration;

/// <summary>Checks the values of a bound configuration; each problem names its setting.</summary>
public static partial class SettingsValidator
{
    private static readonly string[] LogLevels = ["Verbose", "Debug", "Information", "Warning", "Error", "Fatal"];

    /// <summary>Adds a problem for each invalid value.</summary>
    public static void Validate(CtiBridgeSettings settings, List<SettingsProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(problems);
        ValidateDatabase(settings.Database, problems);
        ValidateAsterisk(settings.Asterisk, problems);
        ValidateHttp(settings.Http, problems);
        global::CtiBridge.Service.CallControl.CallControlConfiguration.Validate(settings.CallControl, problems);
        global::CtiBridge.Service.CallControl.SiteRouting.Validate(settings.Asterisk, settings.CallControl, problems);
        global::CtiBridge.Service.Callbacks.CallbackSettings.Validate(settings.Callbacks, problems, [.. settings.CallControl.Queues.Select(q => q.Name)]);
        for (var i = 0; i < settings.CallControl.Queues.Count; i++)
        {
            Live.ScreenPopTemplate.Validate(settings.CallControl.Queues[i].ScreenPopUrl, $"callControl.queues[{i}].screenPopUrl", problems);
        }

        global::CtiBridge.Service.Dialer.DialerSettings.Validate(settings.Dialer, problems);
        Required(settings.ClickToDial.Context, "clickToDial.context", "the dialplan context click-to-dial numbers are dialled in (e.g. \"from-internal\")", problems);
        Required(settings.ClickToDial.PauseReason, "clickToDial.pauseReason", "the pause reason set while an agent dials out (e.g. \"outbound\")", problems);
        Live.WebhookSettings.Validate(settings.Webhooks, problems);
        if (settings.Webhooks.Count > 0 && !settings.CallControl.IsEnabled)
        {
            problems.Add(new SettingsProblem("webhooks", "posts call and agent events, but callControl configures no queue, so there would be none; add callControl.queues or remove the webhooks"));
        }

        if (!LogLevels.Contains(settings.Logging.Level, StringComparer.OrdinalIgnoreCase))
        {
            problems.Add(new SettingsProblem("logging.level", $"'{settings.Logging.Level}' is not a log level ({string.Join(", ", LogLevels)}){SpellingSuggestion.DidYouMean(settings.Logging.Level, LogLevels)}"));
        }
    }

    private static void ValidateDatabase(DatabaseSettings database, List<SettingsProblem> problems)
    {
        if (string.IsNullOrWhiteSpace(database.ConnectionString))
        {
            problems.Add(new SettingsProblem("database.connectionString", "is required (e.g. \"Host=127.0.0.1;Database=ctibridge;Username=ctibridge\")"));
            return;
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(database.ConnectionString);
            if (string.IsNullOrWhiteSpace(builder.Host))
            {
                problems.Add(new SettingsProblem("database.connectionString", "names no Host"));
            }
        }
        catch (ArgumentException ex)
        {
            problems.Add(new SettingsProblem("database.connectionString", $"is not a valid connection string: {ex.Message}"));
        }
    }

    private static void ValidateAsterisk(List<AsteriskServerSettings> servers, List<SettingsProblem> problems)
    {
        if (servers.Count == 0)
        {
            problems.Add(new SettingsProblem("asterisk", "lists no Asterisk server; add one with its ami and ari endpoints"));
            return;
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < servers.Count; i++)
        {
            var server = servers[i];
            var at = $"asterisk[{i}]";
            if (!Name().IsMatch(server.Name))
            {
                problems.Add(new SettingsProblem($"{at}.name", $"'{server.Name}' is not a valid name (letters, digits, '-' and '_', starting with a letter)"));
            }
            else if (!names.Add(server.Name))
            {
                problems.Add(new SettingsProblem($"{at}.name", $"'{server.Name}' is used by another server; names must be unique"));
            }

            if (string.IsNullOrWhiteSpace(server.Ami.Host))
            {
                problems.Add(new SettingsProblem($"{at}.ami.host", "is required"));
            }

            if (server.Ami.Port is < 1 or > 65535)
            {
                problems.Add(new SettingsProblem($"{at}.ami.port", $"{server.Ami.Port} is not a TCP port (1-65535)"));
            }

            Required(server.Ami.Username, $"{at}.ami.username", "the manager.conf user", problems);
            Required(server.Ami.Secret, $"{at}.ami.secret", "the manager.conf secret (e.g. \"${file:/etc/ctibridge/ami.secret}\")", problems);

            if (!Uri.TryCreate(server.Ari.BaseUrl, UriKind.Absolute, out var ari) || (ari.Scheme != Uri.UriSchemeHttp && ari.Scheme != Uri.UriSchemeHttps))
            {
                problems.Add(new SettingsProblem($"{at}.ari.baseUrl", $"'{server.Ari.BaseUrl}' is not an http(s) URL such as http://127.0.0.1:8088/ari"));
            }
            else if (!string.IsNullOrEmpty(ari.UserInfo))
            {
                problems.Add(new SettingsProblem($"{at}.ari.baseUrl", "must not carry credentials; use ari.username and ari.password"));
            }

            Required(server.Ari.Username, $"{at}.ari.username", "the ari.conf user", problems);
            Required(server.Ari.Password, $"{at}.ari.password", "the ari.conf password (e.g. \"${env:CTIBRIDGE_ARI_PASSWORD}\")", problems);
            if (!Name().IsMatch(server.Ari.Application))
            {
                problems.Add(new SettingsProblem($"{at}.ari.application", $"'{server.Ari.Application}' is not a valid Stasis application name"));
            }

            if (AriTransportNames.Parse(server.Ari.Transport) is null)
            {
                problems.Add(new SettingsProblem($"{at}.ari.transport", $"'{server.Ari.Transport}' is not an ARI transport ({string.Join(" or ", AriTransportNames.All)}){SpellingSuggestion.DidYouMean(server.Ari.Transport ?? "", AriTransportNames.All)}"));
            }

            if (server.Ari.MaxConnections is < 1 or > AriEndpointSettings.MaxConnectionsLimit)
            {
                problems.Add(new SettingsProblem($"{at}.ari.maxConnections", $"{server.Ari.MaxConnections} must be between 1 and {AriEndpointSettings.MaxConnectionsLimit} (and, with the events WebSocket and every other HTTP user of this Asterisk, below its http.conf sessionlimit, 100 by default)"));
            }

            if (server.Ari.MaxPipelineDepth is < 1 or > AriEndpointSettings.MaxPipelineDepthLimit)
            {
                problems.Add(new SettingsProblem($"{at}.ari.maxPipelineDepth", $"{server.Ari.MaxPipelineDepth} must be between 1 (no pipelining) and {AriEndpointSettings.MaxPipelineDepthLimit}"));
            }
            else if (server.Ari.MaxPipelineDepth > 1 && AriTransportNames.Parse(server.Ari.Transport) is { } transport && transport != CtiBridge.Asterisk.Ari.AriRestTransport.Sockets)
            {
                problems.Add(new SettingsProblem($"{at}.ari.maxPipelineDepth", $"{server.Ari.MaxPipelineDepth}: pipelining needs ari.transport '{AriTransportNames.Own}' (the client's own HTTP/1.1), not '{server.Ari.Transport}'"));
            }
        }
    }

    private static void ValidateHttp(HttpSettings http, List<SettingsProblem> problems)
    {
        foreach (var url in http.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                problems.Add(new SettingsProblem("http.urls", $"'{url}' is not an http(s) URL such as http://127.0.0.1:8080"));
            }
        }
    }

    private static void Required(string value, string path, string what, List<SettingsProblem> problems)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            problems.Add(new SettingsProblem(path, $"is required: {what}"));
        }
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex Name();
}
