using System.Net.Security;
using CtiBridge.Asterisk.Ami;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Service.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CtiBridge.Service.Hosting;

/// <summary>One configured Asterisk server and the clients CtiBridge keeps to it.</summary>
public sealed class AsteriskServer : IAsyncDisposable
{
    /// <summary>Creates the clients (nothing connects yet).</summary>
    public AsteriskServer(AsteriskServerSettings settings, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Name = settings.Name;
        Ami = new AmiClient(ToAmiOptions(settings.Ami), loggerFactory.CreateLogger<AmiClient>(), timeProvider);
        Ari = new AriClient(ToAriOptions(settings.Ari), timeProvider: timeProvider, loggerFactory: loggerFactory);
    }

    /// <summary>The server's configured name.</summary>
    public string Name { get; }

    /// <summary>The AMI client (started by the host; reconnects forever).</summary>
    public AmiClient Ami { get; }

    /// <summary>The ARI REST client.</summary>
    public AriClient Ari { get; }

    /// <summary>Maps the service's AMI settings onto the client's options.</summary>
    public static AmiClientOptions ToAmiOptions(AmiEndpointSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new AmiClientOptions
        {
            Host = settings.Host,
            Port = settings.Port,
            Username = settings.Username,
            Secret = settings.Secret,
            Authentication = settings.UseMd5Login ? AmiAuthentication.Md5 : AmiAuthentication.Plain,
            Tls = settings.UseTls ? new SslClientAuthenticationOptions { TargetHost = settings.Host } : null,
        };
    }

    /// <summary>Maps the service's ARI settings onto the client's options.</summary>
    public static AriClientOptions ToAriOptions(AriEndpointSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new AriClientOptions
        {
            BaseAddress = new Uri(settings.BaseUrl),
            UserName = settings.Username,
            Password = settings.Password,
            Applications = [settings.Application],
            // Validated at start-up (SettingsValidator); a value that slipped past is refused here, not guessed.
            RestTransport = AriTransportNames.Parse(settings.Transport)
                ?? throw new ArgumentException($"ari.transport '{settings.Transport}' is not an ARI transport ({string.Join(" or ", AriTransportNames.All)}).", nameof(settings)),
            MaxConnections = settings.MaxConnections,
            MaxPipelineDepth = settings.MaxPipelineDepth,
        };
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Ami.DisposeAsync().ConfigureAwait(false);
        Ari.Dispose();
    }
}

/// <summary>Registers one <see cref="AsteriskServer"/> per configured server, their start-up and their readiness.</summary>
public static class AsteriskConnectionExtensions
{
    /// <summary>Adds the Asterisk part.</summary>
    public static IServiceCollection AddCtiBridgeAsterisk(this IServiceCollection services, IReadOnlyList<AsteriskServerSettings> servers)
    {
        ArgumentNullException.ThrowIfNull(servers);
        services.AddSingleton<IReadOnlyList<AsteriskServer>>(provider =>
            servers.Select(s => new AsteriskServer(s, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILoggerFactory>())).ToList());
        services.AddHostedService<AsteriskConnectionService>();
        services.AddHealthChecks().AddCheck<AsteriskHealthCheck>("asterisk", tags: ["ready"]);
        return services;
    }
}

/// <summary>
/// Starts every server's AMI connection without holding up the host: a PBX that is down or
/// refuses the login is retried by the client forever (with backoff), and shows in readiness.
/// </summary>
internal sealed partial class AsteriskConnectionService(IReadOnlyList<AsteriskServer> servers, ILogger<AsteriskConnectionService> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(servers.Select(server => StartAsync(server, stoppingToken)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        foreach (var server in servers)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task StartAsync(AsteriskServer server, CancellationToken stoppingToken)
    {
        try
        {
            await server.Ami.StartAsync(stoppingToken).ConfigureAwait(false);
            LogAmiConnected(logger, server.Name, server.Ami.ProtocolVersion ?? "?");
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (AmiLoginException ex)
        {
            // The client keeps retrying on its own, slowly; readiness says why it is not connected.
            LogAmiLoginRefused(logger, server.Name, ex.Message);
        }
        catch (AmiConnectionException ex)
        {
            LogAmiGaveUp(logger, server.Name, ex.Message);
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "AMI of Asterisk server {Server} connected and logged in ({Banner})")]
    private static partial void LogAmiConnected(ILogger logger, string server, string banner);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "AMI of Asterisk server {Server} refused the login: {Reason}; check asterisk[].ami.username/secret and manager.conf")]
    private static partial void LogAmiLoginRefused(ILogger logger, string server, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Error, Message = "AMI of Asterisk server {Server} gave up reconnecting: {Reason}")]
    private static partial void LogAmiGaveUp(ILogger logger, string server, string reason);
}

/// <summary>Ready when every server's AMI is logged in and its ARI answers a ping.</summary>
internal sealed class AsteriskHealthCheck(IReadOnlyList<AsteriskServer> servers) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problems = new List<string>();
        foreach (var server in servers)
        {
            var ami = server.Ami.State;
            if (ami.State != AmiConnectionState.Connected)
            {
                problems.Add($"{server.Name}: AMI {ami.State.ToString().ToLowerInvariant()}{(ami.Reason is { } reason ? $" ({reason.Message})" : string.Empty)}");
            }

            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(3));
                await server.Ari.Asterisk.PingAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AriException or HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                problems.Add($"{server.Name}: ARI not answering ({ex.Message})");
            }
        }

        return problems.Count == 0
            ? HealthCheckResult.Healthy($"{servers.Count} Asterisk server(s): AMI logged in, ARI answering")
            : HealthCheckResult.Unhealthy(string.Join("; ", problems));
    }
}
