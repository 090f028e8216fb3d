using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.Service.Hosting;
using Npgsql;

namespace CtiBridge.Service.Configuration;

/// <summary>
/// Keeps the dialer's campaign table (<c>dialer_campaigns</c>, through <see cref="CampaignStore"/>)
/// in step with the configuration file's <c>campaigns</c>: at start-up once the schema is current,
/// and on every reload. A campaign whose stored definition differs is stored again (audited, the
/// dialers pick it up at their next campaign refresh); its state is left alone (new ones are
/// stopped). A campaign taken out of the file stays in the database as it is. While PostgreSQL
/// cannot be written, the write is retried until it succeeds.
/// </summary>
public sealed partial class ConfiguredCampaigns : BackgroundService
{
    /// <summary>Who the audit log names for changes made from the file.</summary>
    public const string Actor = "configuration file";

    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ReloadWait = TimeSpan.FromSeconds(10);
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CampaignStore _store;
    private readonly DatabaseSchemaState _schema;
    private readonly TimeProvider _time;
    private readonly ILogger<ConfiguredCampaigns> _logger;
    private IReadOnlyList<CampaignDefinition> _desired;
    private bool _pending = true;

    /// <summary>Creates the writer for the campaigns the service started with.</summary>
    public ConfiguredCampaigns(IReadOnlyList<CampaignDefinition> startup, NpgsqlDataSource dataSource, DatabaseSchemaState schema, TimeProvider timeProvider, ILogger<ConfiguredCampaigns> logger)
    {
        _desired = startup ?? throw new ArgumentNullException(nameof(startup));
        _store = new CampaignStore(dataSource, timeProvider);
        _schema = schema ?? throw new ArgumentNullException(nameof(schema));
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
    }

    /// <summary>
    /// Takes the campaigns of a reloaded configuration and stores the changed ones now (bounded
    /// wait); when the database cannot be written yet, the write is retried in the background.
    /// </summary>
    /// <returns>What happened, one line each, for the reload's answer and log.</returns>
    public async Task<IReadOnlyList<string>> ApplyAsync(IReadOnlyList<CampaignDefinition> campaigns, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(campaigns);
        var before = Volatile.Read(ref _desired);
        Volatile.Write(ref _desired, campaigns);
        _pending = true;
        var notes = before.Where(b => !campaigns.Any(c => c.Id == b.Id))
            .Select(b => $"campaigns: '{b.Id}' is no longer in the file; it stays in the database as it is (stop it with POST /api/campaigns/{b.Id}/stop)").ToList();
        if (!_schema.WhenCurrentAsync(CancellationToken.None).IsCompleted)
        {
            notes.Add("campaigns: the database schema is not current yet; they are stored once it is");
            Signal();
            return notes;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(ReloadWait);
        try
        {
            var stored = await WriteAsync(wait.Token).ConfigureAwait(false);
            notes.AddRange(stored.Select(id => $"campaigns: '{id}' stored; the dialers take the new definition at their next campaign refresh"));
        }
        catch (Exception ex) when (IsDatabaseFailure(ex) || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            notes.Add($"campaigns: not stored yet ({Reason(ex)}); retried every {RetryInterval.TotalSeconds:0} s");
            LogWriteFailed(_logger, Reason(ex), RetryInterval.TotalSeconds);
            Signal();
        }

        return notes;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _schema.WhenCurrentAsync(stoppingToken).ConfigureAwait(false);
            while (!stoppingToken.IsCancellationRequested)
            {
                if (_pending)
                {
                    try
                    {
                        await WriteAsync(stoppingToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (IsDatabaseFailure(ex))
                    {
                        LogWriteFailed(_logger, Reason(ex), RetryInterval.TotalSeconds);
                        await Task.Delay(RetryInterval, _time, stoppingToken).ConfigureAwait(false);
                        continue;
                    }
                }

                await _signal.WaitAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _writing.Dispose();
        _signal.Dispose();
        base.Dispose();
    }

    /// <summary>Stores every desired campaign whose stored definition differs; returns their ids.</summary>
    private async Task<List<string>> WriteAsync(CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var desired = Volatile.Read(ref _desired);
            _pending = false;
            var stored = new List<string>();
            try
            {
                foreach (var campaign in desired)
                {
                    StoredCampaign? current;
                    try
                    {
                        current = await _store.GetAsync(campaign.Id, cancellationToken).ConfigureAwait(false);
                    }
                    catch (DialerConfigurationException)
                    {
                        current = null; // stored under older, looser checks: the file's valid definition replaces it
                    }

                    if (current is not null && current.Definition.ToJson() == campaign.ToJson())
                    {
                        continue;
                    }

                    var state = await _store.PutAsync(campaign, Actor, cancellationToken).ConfigureAwait(false);
                    stored.Add(campaign.Id);
                    LogStored(_logger, campaign.Id, current is null ? "added" : "changed", state.ToString().ToLowerInvariant());
                }
            }
            catch
            {
                _pending = true;
                throw;
            }

            return stored;
        }
        finally
        {
            _writing.Release();
        }
    }

    private void Signal()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: the loop writes the newest list anyway.
        }
    }

    private static bool IsDatabaseFailure(Exception ex) => ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException;

    private static string Reason(Exception ex) => ex is OperationCanceledException ? "the database did not answer in time" : ex.Message;

    [LoggerMessage(EventId = 1125, Level = LogLevel.Information, Message = "Campaign {CampaignId} from the configuration file stored ({Change}); it is {State}")]
    private static partial void LogStored(ILogger logger, string campaignId, string change, string state);

    [LoggerMessage(EventId = 1126, Level = LogLevel.Warning, Message = "Campaigns from the configuration file not stored ({Reason}); retried in {Seconds} s")]
    private static partial void LogWriteFailed(ILogger logger, string reason, double seconds);
}
