using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Live;
using Npgsql;

namespace CtiBridge.Service.Dialer;

/// <summary>Registers the outbound dialer when <c>dialer.enabled</c> is true.</summary>
public static class DialerExtensions
{
    /// <summary>
    /// Adds the <see cref="OutboundDialer"/> (a singleton the HTTP API can ask for stats and agent
    /// joins) and the hosted service that runs it.
    /// </summary>
    public static IServiceCollection AddCtiBridgeDialer(this IServiceCollection services, CtiBridgeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.CallControl.IsEnabled)
        {
            // Screen pops of dialers on other instances (a dialer-only instance) go on this instance's event stream too.
            services.AddHostedService(provider => new PreviewScreenPops(provider, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<PreviewScreenPops>>()));
        }

        if (!settings.Dialer.Enabled)
        {
            return services;
        }

        services.AddSingleton(provider =>
        {
            var servers = provider.GetRequiredService<IReadOnlyList<AsteriskServer>>();
            var name = settings.Dialer.Server ?? settings.Asterisk.FirstOrDefault()?.Name;
            var server = servers.FirstOrDefault(s => s.Name == name)
                ?? throw new InvalidOperationException($"dialer.server '{name}' is not one of the configured asterisk servers ({string.Join(", ", servers.Select(s => s.Name))})");
            var serverSettings = settings.Asterisk.Single(s => s.Name == server.Name);
            var host = provider.GetRequiredService<TimeProvider>();
            return new OutboundDialer(settings.Dialer, server.Ari, AsteriskServer.ToAriOptions(serverSettings.Ari), provider.GetRequiredService<NpgsqlDataSource>(),
                provider.GetKeyedService<TimeProvider>(OutboundDialer.ClockServiceKey) ?? host, provider.GetRequiredService<ILoggerFactory>(), server.Name, connectionTimeProvider: host,
                ami: server.Ami);
        });
        services.AddHostedService(provider => new OutboundDialerService(provider.GetRequiredService<OutboundDialer>(), provider, settings.CallControl.Shutdown.CallsFinishWithin,
            provider.GetRequiredService<IHostApplicationLifetime>()));
        return services;
    }
}

/// <summary>
/// Starts the dialer with the service and stops it with it, gracefully: the dialer's calls get the
/// same time to finish as call control's (<c>callControl.shutdown.callsFinishWithin</c>), counted
/// from the moment the stop is asked for, alongside call control's own wait rather than before it.
/// Its preview screen pops go on the event stream.
/// </summary>
internal sealed class OutboundDialerService(OutboundDialer dialer, IServiceProvider services, TimeSpan callsFinishWithin, IHostApplicationLifetime lifetime) : BackgroundService
{
    private readonly CancellationTokenSource _stopDeadline = new();
    private Task<int>? _drain;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (ExecuteTask is not null)
            {
                using var deadline = cancellationToken.Register(_stopDeadline.Cancel);
                await StartDrain().ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
            // The dialer's loop had already stopped: nothing is up.
        }
        finally
        {
            await base.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override void Dispose()
    {
        _stopDeadline.Dispose();
        base.Dispose();
    }

    private Task<int> StartDrain() => LazyInitializer.EnsureInitialized(ref _drain, () => Task.Run(() => dialer.DrainAsync(callsFinishWithin, _stopDeadline.Token)));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (services.GetService<CallCenter>() is { } center)
        {
            if (services.GetService<LiveEventHub>() is not null)
            {
                // Through call control's event stream, so the screen pop is numbered with the ACD's events (the hub formats it).
                dialer.PreviewChanged += preview => center.TryNote(new DialerPreviewNoted(preview));
            }

            // An agent on a nailed-up line cannot log in to inbound queues too (one state at a time in the state log).
            center.AgentWorkingElsewhere = agentId => dialer.CampaignOf(agentId) is { } campaign
                ? $"agent {agentId} is on the nailed-up line of campaign {campaign}; leave the campaign before logging in to inbound queues"
                : null;
        }

        try
        {
            // On a new database the migrations run alongside: the dialer's tables must exist first.
            if (services.GetService<DatabaseSchemaState>() is { } schema)
            {
                await schema.WhenCheckedAsync(stoppingToken).ConfigureAwait(false);
            }

            await dialer.StartAsync(stoppingToken).ConfigureAwait(false);

            // The stop is asked for before any service stops: the dialer's calls start finishing now.
            using var stopping = lifetime.ApplicationStopping.Register(() => StartDrain());
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await dialer.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>
/// Puts the preview screen pops raised by dialers on other instances (read from
/// <c>dialer_preview_events</c>) on this instance's event stream, numbered like its own events, so an
/// agent's desktop connected to the instance running call control sees a lead shown by a dialer-only
/// instance. Screen pops of this instance's own dialer are noted directly and skipped here.
/// </summary>
internal sealed partial class PreviewScreenPops(IServiceProvider services, TimeProvider time, ILogger<PreviewScreenPops> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (services.GetService<CallCenter>() is not { } center || services.GetService<LiveEventHub>() is null)
        {
            return;
        }

        try
        {
            if (services.GetService<DatabaseSchemaState>() is { } schema)
            {
                await schema.WhenCheckedAsync(stoppingToken).ConfigureAwait(false);
            }

            // A standby notes nothing (its call control does not run): it starts reading when it takes over.
            await center.Started.WaitAsync(stoppingToken).ConfigureAwait(false);
            var relay = new Data.Dialer.PreviewRelay(services.GetRequiredService<NpgsqlDataSource>(), time);
            var local = services.GetService<OutboundDialer>()?.InstanceId ?? string.Empty;
            long? last = null;
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    if (last is null)
                    {
                        // Leads shown before call control started here (a restart, a takeover by the standby) are
                        // still on the agents' screens: their offers go on this stream first, then everything after.
                        var upto = await relay.LastEventIdAsync(stoppingToken).ConfigureAwait(false);
                        var shown = await relay.ShownAsync(upto, local, time.GetUtcNow() - Data.Dialer.LeadHopper.ClaimLease, stoppingToken).ConfigureAwait(false);
                        foreach (var row in shown)
                        {
                            if (OutboundDialer.PreviewFromJson(row.PreviewJson) is { } preview)
                            {
                                center.TryNote(new DialerPreviewNoted(preview));
                            }
                        }

                        last = upto;
                        if (shown.Count > 0)
                        {
                            LogReplayed(logger, shown.Count);
                        }
                    }

                    foreach (var row in await relay.ReadAfterAsync(last.Value, local, cancellationToken: stoppingToken).ConfigureAwait(false))
                    {
                        if (OutboundDialer.PreviewFromJson(row.PreviewJson) is { } preview)
                        {
                            center.TryNote(new DialerPreviewNoted(preview));
                        }

                        last = row.EventId;
                    }
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Text.Json.JsonException)
                {
                    LogReadFailed(logger, ex.Message);
                }

                await Task.Delay(OutboundDialer.PreviewRelayInterval, time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 1052, Level = LogLevel.Warning, Message = "Reading other instances' preview screen pops failed ({Reason}); retrying")]
    private static partial void LogReadFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1053, Level = LogLevel.Information, Message = "Preview: {Count} lead(s) shown by other instances' dialers before call control started here put on the event stream")]
    private static partial void LogReplayed(ILogger logger, int count);
}

/// <summary>
/// A preview screen pop noted in call control's event stream (<see cref="CallCenter.TryNote"/>):
/// it gets the engine's next sequence number, like every other event of <c>/api/events</c>.
/// </summary>
/// <param name="Preview">The screen pop.</param>
public sealed record DialerPreviewNoted(DialerPreview Preview) : AcdEvent;

/// <summary>The dialer's events on the live event stream (docs/api.md).</summary>
public static class DialerLiveEvents
{
    /// <summary>
    /// <c>dialer.preview</c>: a preview lead offered to an agent (their screen pop, with the lead's
    /// fields), dialled, skipped or refused, with its place in the engine's event sequence.
    /// </summary>
    public static LiveEvent Preview(DialerPreviewNoted noted)
    {
        ArgumentNullException.ThrowIfNull(noted);
        var preview = noted.Preview;
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", "dialer.preview");
            w.WriteNumber("sequence", noted.Sequence);
            w.WriteString("at", preview.At);
            w.WriteString("agentId", preview.AgentId);
            if (preview.CallId is not null)
            {
                w.WriteString("callId", preview.CallId);
            }

            w.WriteString("phase", preview.Phase);
            w.WriteString("campaignId", preview.CampaignId);
            w.WriteString("leadId", preview.LeadId);
            w.WriteString("phoneNumber", preview.PhoneNumber);
            w.WritePropertyName("customFields");
            preview.CustomFields.WriteTo(w);
            if (preview.DecideBy is { } decideBy)
            {
                w.WriteString("decideBy", decideBy);
            }

            if (preview.OnTimeout is not null)
            {
                w.WriteString("onTimeout", preview.OnTimeout);
            }

            if (preview.Reason is not null)
            {
                w.WriteString("reason", preview.Reason);
            }

            w.WriteEndObject();
        }

        return new LiveEvent(noted.Sequence, "dialer.preview", preview.AgentId, preview.CallId, buffer.WrittenMemory.ToArray());
    }
}
