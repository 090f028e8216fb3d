using System.Collections;
using System.Security.Cryptography;
using System.Text.Json;
using CtiBridge.Service.CallControl;

namespace CtiBridge.Service.Configuration;

/// <summary>The outcome of a configuration reload.</summary>
/// <param name="Applied">True when the new configuration is live.</param>
/// <param name="Problems">Why it was rejected, one line per problem naming the setting (empty when applied).</param>
/// <param name="RestartNeeded">Changed settings that only take effect after a restart (they keep their running values meanwhile).</param>
/// <param name="Notes">What else the reload did or could not do yet (campaigns stored, kept, waiting for the database), one line each.</param>
public sealed record ConfigurationReloadResult(bool Applied, IReadOnlyList<string> Problems, IReadOnlyList<string> RestartNeeded, IReadOnlyList<string> Notes)
{
    /// <summary>The outcome in one sentence for people: applied or not, and which settings wait for a restart.</summary>
    public string Message => !Applied
        ? $"Rejected with {Problems.Count} problem(s); the running configuration stays."
        : RestartNeeded.Count == 0
            ? "Applied without a restart."
            : $"Applied, except {string.Join(", ", RestartNeeded)}: changed, but taking effect only after a restart (restart the service to apply; the running values stay until then).";
}

/// <summary>
/// Applies a changed configuration to the running service: what can change live (queues, agents
/// with their queues, penalties and skills, DID routes, IVR plans and calendars) changes; a file or
/// payload with any problem is rejected whole, with the same one-line-per-problem messages as
/// start-up, and the running configuration stays. Sections that need a restart are named.
/// Campaigns of the file are stored in the dialer's campaign table (<see cref="ConfiguredCampaigns"/>),
/// which the dialers re-read by themselves.
/// </summary>
public sealed partial class ConfigurationReload : IDisposable
{
    private static readonly string[] RestartSections = ["database", "asterisk", "http", "logging", "callbacks", "clickToDial", "webhooks", "dialer"];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CallCenter? _center;
    private readonly ConfiguredCampaigns? _campaigns;
    private readonly ILogger<ConfigurationReload> _logger;
    private readonly IDictionary _environment;
    private CtiBridgeSettings _running;
    private string? _lastFileHash;

    /// <summary>Creates the reloader for the service started with <paramref name="startup"/>.</summary>
    /// <param name="startup">The settings the service started with.</param>
    /// <param name="filePath">The configuration file (<c>--config</c>); null when the service was started from settings in memory.</param>
    /// <param name="center">Call control; null when the service runs without queues.</param>
    /// <param name="logger">The log.</param>
    /// <param name="environment">Environment variables for overrides and <c>${env:}</c> references; null for the process's.</param>
    /// <param name="campaigns">Stores the file's campaigns; null when none are kept (tests of call control alone).</param>
    public ConfigurationReload(CtiBridgeSettings startup, string? filePath, CallCenter? center, ILogger<ConfigurationReload> logger, IDictionary? environment = null, ConfiguredCampaigns? campaigns = null)
    {
        _campaigns = campaigns;
        _running = startup ?? throw new ArgumentNullException(nameof(startup));
        FilePath = filePath;
        _center = center;
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _environment = environment ?? Environment.GetEnvironmentVariables();
        if (filePath is not null && File.Exists(filePath))
        {
            _lastFileHash = HashOf(filePath);
        }
    }

    /// <summary>Raised after every reload attempt (file or API), applied or rejected.</summary>
    public event Action<ConfigurationReloadResult>? Completed;

    /// <summary>The configuration file the service watches; null when there is none.</summary>
    public string? FilePath { get; }

    /// <summary>Reads the configuration file again and applies it (the file watcher and <c>POST /api/config/reload</c>).</summary>
    public async Task<ConfigurationReloadResult> ReloadFileAsync(CancellationToken cancellationToken = default)
    {
        if (FilePath is null)
        {
            return Rejected(["the service was not started from a configuration file (ctibridge run --config FILE); there is nothing to reload"]);
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _lastFileHash = File.Exists(FilePath) ? HashOf(FilePath) : null;
            CtiBridgeSettings settings;
            try
            {
                settings = SettingsLoader.Load(FilePath, _environment);
            }
            catch (SettingsException ex)
            {
                return Reject(FilePath, ex.Problems.Select(p => p.ToString()).ToList());
            }

            return await ApplyAsync(settings, FilePath, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Reloads the file when its content changed since it was last read (the watcher's check).</summary>
    /// <returns>Null when the file is unchanged (or missing: an editor replacing it); otherwise the outcome.</returns>
    public async Task<ConfigurationReloadResult?> ReloadFileIfChangedAsync(CancellationToken cancellationToken = default)
    {
        if (FilePath is null || !File.Exists(FilePath))
        {
            return null;
        }

        string hash;
        try
        {
            hash = HashOf(FilePath);
        }
        catch (IOException)
        {
            return null; // being written: the next check reads it whole
        }

        return hash == _lastFileHash ? null : await ReloadFileAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Applies a new <c>callControl</c> section sent over the API (the file is not changed).</summary>
    /// <param name="json">The section as JSON, as it would appear in ctibridge.json under <c>callControl</c>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async Task<ConfigurationReloadResult> ApplyCallControlAsync(string json, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(json);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            CallControlSettings section;
            try
            {
                section = SettingsLoader.ParseCallControl(json, "request body", _environment);
            }
            catch (SettingsException ex)
            {
                return Reject("the API", ex.Problems.Select(p => p.ToString()).ToList());
            }

            var settings = Copy(_running);
            settings.CallControl = section;
            return await ApplyAsync(settings, "the API", cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<ConfigurationReloadResult> ApplyAsync(CtiBridgeSettings settings, string source, CancellationToken cancellationToken)
    {
        var restart = RestartSections.Where(name => !SameSection(_running, settings, name)).ToList();
        if (_center is null)
        {
            if (settings.CallControl.IsEnabled)
            {
                restart.Add("callControl");
            }
        }
        else
        {
            var problems = await _center.ReloadAsync(settings.CallControl, restart, cancellationToken).ConfigureAwait(false);
            if (problems.Count > 0)
            {
                return Reject(source, problems.Select(p => p.ToString()).ToList());
            }
        }

        // Campaigns go to the dialer's table (they are checked already; only a database outage can delay them).
        var notes = _campaigns is null ? [] : await _campaigns.ApplyAsync(settings.Campaigns, cancellationToken).ConfigureAwait(false);

        // Sections that need a restart keep running as they started; call control and campaigns moved on.
        var running = Copy(_running);
        running.CallControl = _center?.Settings ?? _running.CallControl;
        running.Campaigns = settings.Campaigns;
        _running = running;
        if (restart.Count > 0)
        {
            LogRestartNeeded(_logger, source, string.Join(", ", restart));
        }

        foreach (var note in notes)
        {
            LogNote(_logger, source, note);
        }

        LogApplied(_logger, source);
        var applied = new ConfigurationReloadResult(true, [], restart, notes);
        Completed?.Invoke(applied);
        return applied;
    }

    private ConfigurationReloadResult Reject(string source, List<string> problems)
    {
        LogRejected(_logger, source, problems.Count);
        foreach (var problem in problems)
        {
            LogProblem(_logger, problem);
        }

        var rejected = Rejected(problems);
        Completed?.Invoke(rejected);
        return rejected;
    }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();

    private static ConfigurationReloadResult Rejected(IReadOnlyList<string> problems) => new(false, problems, [], []);

    private static CtiBridgeSettings Copy(CtiBridgeSettings s) => new()
    {
        Database = s.Database, Asterisk = s.Asterisk, Http = s.Http, Logging = s.Logging, CallControl = s.CallControl,
        Callbacks = s.Callbacks, ClickToDial = s.ClickToDial, Webhooks = s.Webhooks, Dialer = s.Dialer, Campaigns = s.Campaigns,
    };

    private static bool SameSection(CtiBridgeSettings a, CtiBridgeSettings b, string name)
    {
        // Compared in memory only (secrets included, so a rotated password is noticed); never logged.
        static object? Section(CtiBridgeSettings s, string name) => name switch
        {
            "database" => s.Database,
            "asterisk" => s.Asterisk,
            "http" => s.Http,
            "logging" => s.Logging,
            "callbacks" => s.Callbacks,
            "clickToDial" => s.ClickToDial,
            "webhooks" => s.Webhooks,
            _ => s.Dialer,
        };

        return JsonSerializer.Serialize(Section(a, name)) == JsonSerializer.Serialize(Section(b, name));
    }

    private static string HashOf(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Configuration from {Source} applied without a restart")]
    private static partial void LogApplied(ILogger logger, string source);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Error, Message = "Configuration from {Source} rejected with {Count} problem(s); the running configuration stays")]
    private static partial void LogRejected(ILogger logger, string source, int count);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Error, Message = "  {Problem}")]
    private static partial void LogProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "Configuration from {Source}: {Sections} changed but take(s) effect only after a restart (restart the service to apply); the running values stay until then")]
    private static partial void LogRestartNeeded(ILogger logger, string source, string sections);

    [LoggerMessage(EventId = 1109, Level = LogLevel.Information, Message = "Configuration from {Source}: {Note}")]
    private static partial void LogNote(ILogger logger, string source, string note);
}
