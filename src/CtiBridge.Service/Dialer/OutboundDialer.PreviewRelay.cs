using System.Text.Json;
using System.Threading.Channels;
using CtiBridge.Data.Dialer;

namespace CtiBridge.Service.Dialer;

/// <summary>
/// Preview mode across instances: every screen pop this dialer raises is also written to the
/// database (<see cref="PreviewRelay"/>), so an instance running call control but not this dialer
/// puts it on its event stream and answers the preview API; decisions (dial, skip) sent to another
/// instance for a lead shown here, and an agent's join or leave sent to an instance without the
/// dialer, are picked up and answered here.
/// </summary>
public sealed partial class OutboundDialer
{
    /// <summary>How often decisions sent to other instances are looked for (and how soon a screen pop is written at the latest).</summary>
    internal static TimeSpan PreviewRelayInterval { get; } = TimeSpan.FromMilliseconds(200);

    private readonly Channel<DialerPreview> _relayOut = Channel.CreateUnbounded<DialerPreview>(new UnboundedChannelOptions { SingleReader = true });
    private PreviewRelay? _previewRelay;

    private PreviewRelay PreviewRelayStore => _previewRelay ??= new PreviewRelay(_dataSource, _time);

    private AgentLineRequests? _agentRequests;

    private AgentLineRequests AgentRequestStore => _agentRequests ??= new AgentLineRequests(_dataSource, _time);

    /// <summary>The screen pop as the API and the relay table carry it.</summary>
    internal static string PreviewJson(DialerPreview preview) => JsonSerializer.Serialize(preview, JsonSerializerOptions.Web);

    /// <summary>Reads a screen pop written by <see cref="PreviewJson"/>.</summary>
    internal static DialerPreview? PreviewFromJson(string json) => JsonSerializer.Deserialize<DialerPreview>(json, JsonSerializerOptions.Web);

    private async Task RelayPreviewsAsync(CancellationToken cancellationToken)
    {
        var nextPurge = _time.GetUtcNow();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // Screen pops in the order raised (one writer).
                while (_relayOut.Reader.TryPeek(out var preview))
                {
                    await PreviewRelayStore.PublishAsync(InstanceId, preview.AgentId, preview.Phase, PreviewJson(preview), cancellationToken).ConfigureAwait(false);
                    _relayOut.Reader.TryRead(out _);
                }

                foreach (var request in await PreviewRelayStore.PendingAsync(InstanceId, cancellationToken).ConfigureAwait(false))
                {
                    var (callId, refused) = request.Dial
                        ? await AcceptPreviewAsync(request.AgentId, request.LeadId, cancellationToken).ConfigureAwait(false)
                        : (null, await SkipPreviewAsync(request.AgentId, request.LeadId, cancellationToken).ConfigureAwait(false));
                    await PreviewRelayStore.AnswerAsync(request.RequestId, callId, refused, cancellationToken).ConfigureAwait(false);
                    LogRelayedDecision(_logger, request.Dial ? "dial" : "skip", request.AgentId, refused ?? callId ?? "skipped");
                }

                // Joins and leaves sent to an instance without the dialer (the agent's desktop talks to call control).
                foreach (var request in await AgentRequestStore.PendingAsync(InstanceId, cancellationToken).ConfigureAwait(false))
                {
                    var refused = request.Join
                        ? await JoinAsync(request.CampaignId, request.AgentId, request.Endpoint!, cancellationToken).ConfigureAwait(false)
                        : await LeaveAsync(request.AgentId, cancellationToken).ConfigureAwait(false);
                    await AgentRequestStore.AnswerAsync(request.RequestId, refused, cancellationToken).ConfigureAwait(false);
                    LogRelayedDecision(_logger, request.Join ? "join " + request.CampaignId : "leave", request.AgentId, refused ?? "done");
                }

                if (_time.GetUtcNow() >= nextPurge)
                {
                    await PreviewRelayStore.PurgeAsync(cancellationToken).ConfigureAwait(false);
                    await AgentRequestStore.PurgeAsync(cancellationToken).ConfigureAwait(false);
                    nextPurge = _time.GetUtcNow() + TimeSpan.FromHours(1);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
            {
                // The database is away: the screen pops wait in memory (this instance's own stream has them already), decisions wait in the table.
                LogRelayFailed(_logger, ex.Message);
            }

            try
            {
                using var wake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var raised = _relayOut.Reader.WaitToReadAsync(wake.Token).AsTask();
                await Task.WhenAny(raised, Task.Delay(PreviewRelayInterval, _connectionTime, wake.Token)).ConfigureAwait(false);
                await wake.CancelAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    [LoggerMessage(EventId = 1050, Level = LogLevel.Information, Message = "Preview decision or line request from another instance: {Action} for agent {AgentId}: {Outcome}")]
    private static partial void LogRelayedDecision(ILogger logger, string action, string agentId, string outcome);

    [LoggerMessage(EventId = 1051, Level = LogLevel.Warning, Message = "Preview relay to other instances failed ({Reason}); retrying")]
    private static partial void LogRelayFailed(ILogger logger, string reason);
}
