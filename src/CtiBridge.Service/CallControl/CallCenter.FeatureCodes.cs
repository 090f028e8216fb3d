using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Desk-phone feature codes: the phone's dialplan sends <c>*9X…</c> into the Stasis app as
/// <c>Stasis(ctibridge,feature,${EXTEN})</c>; CtiBridge answers, asks for digits by prompt where
/// needed (agent ID and PIN at login, the pause reason), acts through the ACD engine and says
/// how it went. The phone is identified by its channel's endpoint (<c>PJSIP/1001-0000002a</c> →
/// <c>PJSIP/1001</c>). Agents need nothing but their desk phone.
/// </summary>
public sealed partial class CallCenter
{
    private readonly Dictionary<ChannelKey, FeatureCall> _features = [];
    private readonly Dictionary<string, FeatureCall> _featurePlaybacks = new(StringComparer.Ordinal);

    /// <summary>A feature-code call from the phone of <paramref name="channel"/> (its endpoint, without the channel's suffix): kept, answered and logged.</summary>
    private FeatureCall AnswerFeature(StasisApp app, Channel channel, string code)
    {
        var dash = channel.Name.LastIndexOf('-');
        var phone = dash > 0 ? channel.Name[..dash] : channel.Name;
        var feature = new FeatureCall(channel.Id, app, phone);
        _features[On(app, channel.Id)] = feature;
        var ari = app.Ari;
        _ = RunFeatureAsync(feature, "answer", ct => ari.Channels.AnswerAsync(channel.Id, ct));
        LogFeature(_logger, code, phone);
        return feature;
    }

    private void StartFeature(StasisApp app, Channel channel, string code, DateTimeOffset at)
    {
        var feature = AnswerFeature(app, channel, code);
        var codes = _settings.FeatureCodes;
        if (code == codes.Login)
        {
            Ask(feature, FeatureStep.AgentId, "agent-user");
        }
        else if (code == codes.Logout)
        {
            Finish(feature, WithAgentAtPhone(feature, agentId => _engine.Handle(new AgentLogout(at, agentId))), "agent-loggedoff");
        }
        else if (code.StartsWith(codes.Pause, StringComparison.Ordinal) && code.Length <= codes.Pause.Length + 1)
        {
            if (code.Length == codes.Pause.Length)
            {
                Ask(feature, FeatureStep.PauseReason, "beep", digitsWanted: 1);
            }
            else
            {
                Pause(feature, code[^1], at);
            }
        }
        else if (code == codes.Resume)
        {
            Finish(feature, WithAgentAtPhone(feature, agentId => _engine.Handle(new AgentResume(at, agentId))), "beep");
        }
        else if (code == codes.EndWrapUp)
        {
            Finish(feature, WithAgentAtPhone(feature, agentId => _engine.Handle(new WrapUpEnd(at, agentId))), "beep");
        }
        else if (code == codes.PickUp)
        {
            PickUp(feature, at);
        }
        else if (code == codes.MissedCalls)
        {
            // "You have <n> missed calls": today's rings the agent did not answer (the engine's statistics).
            var missed = -1;
            var outcome = WithAgentAtPhone(feature, agentId =>
            {
                missed = _engine.Statistics.ForAgent(agentId, at).Missed;
                return InputOutcome.Ok;
            });
            Finish(feature, outcome, ["sound:vm-youhave", "number:" + missed.ToString(System.Globalization.CultureInfo.InvariantCulture), "sound:" + codes.MissedCallsPrompt]);
        }
        else
        {
            Finish(feature, InputOutcome.Refused($"'{code}' is not a feature code"), "beep");
        }
    }

    /// <summary>
    /// A supervisor's code from a supervisor's phone (<c>Stasis(ctibridge,supervisor,*812001)</c>):
    /// the mode by the code, the agent ID after it, then the supervisor PIN by prompt.
    /// </summary>
    private void StartSupervisorFeature(StasisApp app, Channel channel, string code, DateTimeOffset at)
    {
        var feature = AnswerFeature(app, channel, code);
        var phone = feature.Phone;
        _ = at;
        var codes = _settings.FeatureCodes;
        var force = ForceCodeOf(code);
        var mode = force is null
            ? new[] { (codes.Listen, SupervisionMode.Listen), (codes.Whisper, SupervisionMode.Whisper), (codes.Barge, SupervisionMode.Barge), (codes.TakeOver, SupervisionMode.TakeOver) }
                .Where(c => code.StartsWith(c.Item1, StringComparison.Ordinal)).OrderByDescending(c => c.Item1.Length).Select(c => (SupervisionMode?)c.Item2).FirstOrDefault()
            : null;
        var supervisor = _settings.Supervisors.FirstOrDefault(s => string.Equals(s.Extension, phone, StringComparison.OrdinalIgnoreCase));
        if (supervisor is null)
        {
            Finish(feature, InputOutcome.Refused($"{phone} is not a supervisor's phone (callControl.supervisors)"), "beep");
            return;
        }

        if (force is { } forced)
        {
            StartForceCode(feature, supervisor, code, forced.Action, forced.Prefix);
            return;
        }

        if (mode is not { } chosen)
        {
            Finish(feature, InputOutcome.Refused($"'{code}' is not a supervisor code"), "beep");
            return;
        }

        var prefix = chosen switch
        {
            SupervisionMode.Listen => codes.Listen,
            SupervisionMode.Whisper => codes.Whisper,
            SupervisionMode.Barge => codes.Barge,
            _ => codes.TakeOver,
        };
        feature.SupervisorId = supervisor.Id;
        feature.Mode = chosen;
        feature.AuditAction = "phone " + prefix + " " + ModeName(chosen);
        AskAgentThenPin(feature, code, prefix);
    }

    /// <summary>The supervisor's PIN was typed: wrong = another try (then goodbye), right = the supervision starts on this call.</summary>
    private void OnSupervisorPin(FeatureCall feature, string digits, DateTimeOffset at)
    {
        var supervisor = FindSupervisor(feature.SupervisorId!);
        if (supervisor is null || !AgentPin.Verify(digits, supervisor.PinHash))
        {
            if (++feature.Tries < _settings.FeatureCodes.LoginTries)
            {
                LogFeatureRefused(_logger, feature.Phone, $"wrong PIN for supervisor '{feature.SupervisorId}'");
                Ask(feature, FeatureStep.SupervisorPin, "agent-incorrect");
            }
            else
            {
                // Said plainly: "incorrect", "goodbye" (not the error tone of a refused action).
                AuditSupervisorCode(feature, at, StatusCodes.Status403Forbidden);
                LogFeatureRefused(_logger, feature.Phone, $"wrong PIN for supervisor '{feature.SupervisorId}' {feature.Tries} times");
                Finish(feature, InputOutcome.Ok, ["sound:agent-incorrect", "sound:vm-goodbye"]);
            }

            return;
        }

        if (feature.Force != ForceAction.None)
        {
            OnForceCodeAuthorized(feature, at);
            return;
        }

        var outcome = StartSupervision(supervisor.Id, feature.AgentId!, feature.Mode, at, feature);
        AuditSupervisorCode(feature, at, outcome.Accepted ? StatusCodes.Status200OK : StatusCodes.Status409Conflict);
        if (!outcome.Accepted)
        {
            Finish(feature, outcome, "beep");
            return;
        }

        // From here the call is the supervisor's leg, no longer a feature-code call.
        feature.Step = FeatureStep.Done;
        feature.TimerVersion++;
        feature.Timer?.Dispose();
        _features.Remove(On(feature.App, feature.ChannelId));
    }

    /// <summary>Runs <paramref name="action"/> for the agent logged in at the calling phone.</summary>
    private InputOutcome WithAgentAtPhone(FeatureCall feature, Func<string, InputOutcome> action)
    {
        var agent = _engine.GetAgents().FirstOrDefault(a => a.State != AgentState.LoggedOut && string.Equals(a.Extension, feature.Phone, StringComparison.OrdinalIgnoreCase) && AgentIsOn(a.AgentId, feature.App.Server));
        return agent is null ? InputOutcome.Refused($"no agent is logged in at {feature.Phone}") : action(agent.AgentId);
    }

    private void Pause(FeatureCall feature, char digit, DateTimeOffset at)
    {
        var outcome = _settings.FeatureCodes.PauseReasons.TryGetValue(digit.ToString(), out var reason)
            ? WithAgentAtPhone(feature, agentId => _engine.Handle(new AgentPause(at, agentId, reason)))
            : InputOutcome.Refused($"pause reason digit '{digit}' is not configured in callControl.featureCodes.pauseReasons");
        Finish(feature, outcome, "beep");
    }

    /// <summary>Plays <paramref name="prompt"/> and collects digits (ended by #, or after <paramref name="digitsWanted"/>).</summary>
    private void Ask(FeatureCall feature, FeatureStep step, string prompt, int digitsWanted = 0)
    {
        feature.Step = step;
        feature.Digits = string.Empty;
        feature.DigitsWanted = digitsWanted;
        var ari = feature.App.Ari;
        var channelId = feature.ChannelId;
        _ = RunFeatureAsync(feature, "prompt " + prompt, ct => ari.Channels.PlayAsync(channelId, ["sound:" + prompt], cancellationToken: ct));
        var version = ++feature.TimerVersion;
        feature.Timer?.Dispose();
        feature.Timer = _time.CreateTimer(_ => Post(when =>
        {
            if (_features.ContainsKey(On(feature.App, channelId)) && feature.TimerVersion == version)
            {
                // Nothing (more) typed in time: what was typed counts as the entry.
                OnFeatureEntry(feature, when);
            }

            return null;
        }), null, _settings.FeatureCodes.DigitTimeout, Timeout.InfiniteTimeSpan);
    }

    private void OnFeatureKey(FeatureCall feature, char key, DateTimeOffset at)
    {
        if (feature.Step == FeatureStep.Done)
        {
            return;
        }

        if (key != '#')
        {
            feature.Digits += key;
        }

        if (key == '#' || (feature.DigitsWanted > 0 && feature.Digits.Length >= feature.DigitsWanted))
        {
            OnFeatureEntry(feature, at);
        }
    }

    private void OnFeatureEntry(FeatureCall feature, DateTimeOffset at)
    {
        feature.TimerVersion++;
        var digits = feature.Digits;
        switch (feature.Step)
        {
            case FeatureStep.AgentId when digits.Length > 0:
                feature.AgentId = digits;
                // Read while the PIN is typed: the PIN step uses it if done (else the last known set).
                feature.LineCheck = AgentLineNowAsync(digits, _stopping.Token);
                Ask(feature, FeatureStep.Pin, "agent-pass");
                break;
            case FeatureStep.Pin:
                var agentId = feature.AgentId!;
                var lineReadNow = feature.LineCheck is { IsCompletedSuccessfully: true } check ? check.Result : default;
                var outcome = RefusedAsWorkingElsewhere(agentId, lineReadNow) ?? _engine.Handle(new AgentLogin(at, agentId, feature.Phone, digits));
                if (outcome.Accepted)
                {
                    Finish(feature, outcome, "agent-loginok");
                }
                else if (++feature.Tries < _settings.FeatureCodes.LoginTries && (outcome.Reason ?? string.Empty).Contains("PIN", StringComparison.OrdinalIgnoreCase))
                {
                    LogFeatureRefused(_logger, feature.Phone, outcome.Reason ?? "refused");
                    Ask(feature, FeatureStep.Pin, "agent-incorrect");
                }
                else
                {
                    Finish(feature, outcome, "vm-goodbye");
                }

                break;
            case FeatureStep.SupervisorPin:
                OnSupervisorPin(feature, digits, at);
                break;
            case FeatureStep.SupervisedAgentId when digits.Length > 0:
                feature.AgentId = digits;
                Ask(feature, FeatureStep.SupervisorPin, "agent-pass");
                break;
            case FeatureStep.ForcePauseReason when digits.Length > 0:
                ForcePause(feature, digits[0], at);
                break;
            case FeatureStep.PauseReason when digits.Length > 0:
                Pause(feature, digits[0], at);
                break;
            default:
                Finish(feature, InputOutcome.Refused("nothing was typed"), "vm-goodbye");
                break;
        }
    }

    /// <summary>Says how it went (<paramref name="okPrompt"/>, or an error tone) and hangs up when the prompt has played.</summary>
    private void Finish(FeatureCall feature, InputOutcome outcome, string okPrompt) => Finish(feature, outcome, ["sound:" + okPrompt]);

    /// <summary>Plays <paramref name="okMedia"/> (ARI media URIs) when accepted, else an error tone, then hangs up.</summary>
    private void Finish(FeatureCall feature, InputOutcome outcome, IReadOnlyList<string> okMedia)
    {
        feature.Step = FeatureStep.Done;
        feature.Timer?.Dispose();
        if (!outcome.Accepted)
        {
            LogFeatureRefused(_logger, feature.Phone, outcome.Reason ?? "refused");
        }

        IReadOnlyList<string> media = outcome.Accepted ? okMedia : ["sound:invalid"];
        var playbackId = feature.ChannelId + "-done";
        _featurePlaybacks[playbackId] = feature;
        var ari = feature.App.Ari;
        var channelId = feature.ChannelId;
        _ = RunFeatureAsync(feature, "result " + string.Join(',', media), ct => ari.Channels.PlayWithIdAsync(channelId, playbackId, [.. media], cancellationToken: ct));
    }

    private bool OnFeaturePlaybackFinished(PlaybackFinished finished)
    {
        if (!_featurePlaybacks.Remove(finished.Playback.Id, out var feature))
        {
            return false;
        }

        feature.App.Release(feature.ChannelId, "normal");
        return true;
    }

    private bool FeatureChannelGone(StasisApp app, string channelId)
    {
        if (!_features.Remove(On(app, channelId), out var feature))
        {
            return false;
        }

        feature.Timer?.Dispose();
        _featurePlaybacks.Remove(channelId + "-done");
        return true;
    }

    /// <summary>Runs a feature call's requests one after the other (answer before the first prompt).</summary>
    private async Task RunFeatureAsync(FeatureCall feature, string what, Func<CancellationToken, Task> step)
    {
        var previous = feature.Tail;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        feature.Tail = done.Task;
        try
        {
            await previous.ConfigureAwait(false);
            await step(_stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Asterisk.Ari.AriException or HttpRequestException or OperationCanceledException)
        {
            LogFeatureStepFailed(_logger, feature.Phone, what, ex.Message);
        }
        finally
        {
            done.TrySetResult();
        }
    }

    private enum FeatureStep
    {
        None,
        AgentId,
        Pin,
        PauseReason,
        SupervisorPin,
        SupervisedAgentId,
        ForcePauseReason,
        Done,
    }

    /// <summary>One feature-code call from a desk phone (loop only).</summary>
    private sealed class FeatureCall(string channelId, StasisApp app, string phone)
    {
        public string ChannelId { get; } = channelId;

        public StasisApp App { get; } = app;

        public string Phone { get; } = phone;

        public FeatureStep Step { get; set; }

        public string Digits { get; set; } = string.Empty;

        public int DigitsWanted { get; set; }

        public string? AgentId { get; set; }

        /// <summary>The read of the agent's campaign line on another instance, started when the agent id was entered.</summary>
        public Task<AgentLineRead>? LineCheck { get; set; }

        public string? SupervisorId { get; set; }

        public SupervisionMode Mode { get; set; }

        /// <summary>The supervisor's forced change asked by this call (none for listen / whisper / barge / take-over).</summary>
        public ForceAction Force { get; set; }

        /// <summary>The audit trail's action for this supervisor code, e.g. <c>phone *85 force-hangup</c>.</summary>
        public string? AuditAction { get; set; }

        public int Tries { get; set; }

        public int TimerVersion { get; set; }

        public ITimer? Timer { get; set; }

        public Task Tail { get; set; } = Task.CompletedTask;
    }

    [LoggerMessage(EventId = 890, Level = LogLevel.Information, Message = "Feature code {Code} from {Phone}")]
    private static partial void LogFeature(ILogger logger, string code, string phone);

    [LoggerMessage(EventId = 891, Level = LogLevel.Information, Message = "Feature code from {Phone} refused: {Reason}")]
    private static partial void LogFeatureRefused(ILogger logger, string phone, string reason);

    [LoggerMessage(EventId = 892, Level = LogLevel.Warning, Message = "Feature code call from {Phone}: {What} failed: {Reason}")]
    private static partial void LogFeatureStepFailed(ILogger logger, string phone, string what, string reason);
}
