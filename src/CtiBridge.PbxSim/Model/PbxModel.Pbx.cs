using System.Globalization;
using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>The dialplan interpreter and its applications.</summary>
internal sealed partial class PbxModel
{
    private enum AppResult
    {
        Next,
        Jump,
        Wait,
        Stop,
    }

    internal void StartPbx(Channel channel)
    {
        ProcessedCalls++;
        channel.InPbx = true;
        channel.RanPbx = true;
        channel.Generation++;
        ContinuePbx(channel);
    }

    /// <summary>How long Answer() waits for the first frame of media before the dialplan goes on.</summary>
    private static readonly TimeSpan AnswerMediaWait = TimeSpan.FromMilliseconds(20);

    private void ContinuePbx(Channel channel)
    {
        while (!channel.Gone && !channel.Ending)
        {
            var step = Dialplan.Step(channel.Context, channel.Exten, channel.Priority);
            if (step is null)
            {
                // Ran off the end of the extension: Asterisk ends the PBX and hangs the channel up.
                channel.InPbx = false;
                Teardown(channel, channel.HangupCause ?? 16, fromPbxEnd: true);
                return;
            }

            var data = Expand(channel, step.Data);
            CelApplicationStarts(channel, step.Application, data);
            if (channel.LocationPublished)
            {
                channel.LocationPublished = false;
                (channel.Application, channel.AppData, channel.LastApplication, channel.LastData) = (step.Application, data, step.Application, data);
            }
            else
            {
                EmitNewexten(channel, step.Application, data);
            }

            switch (Execute(channel, step.Application, data))
            {
                case AppResult.Next:
                    channel.Priority++;
                    break;
                case AppResult.Jump:
                    break;
                default:
                    return;
            }
        }
    }

    /// <summary>Continues the dialplan at the next priority after <paramref name="delay"/>, unless the channel moved on.</summary>
    private AppResult WaitThenNext(Channel channel, TimeSpan delay, Action? before = null)
    {
        var generation = ++channel.Generation;
        Schedule(delay, () =>
        {
            if (channel.Generation != generation || channel.Gone || channel.Ending)
            {
                return;
            }

            before?.Invoke();
            if (!channel.Gone && !channel.Ending && channel.InPbx)
            {
                channel.Priority++;
                ContinuePbx(channel);
            }
        });
        return AppResult.Wait;
    }

    private AppResult Execute(Channel channel, string application, string data)
    {
        switch (application.ToUpperInvariant())
        {
            case "NOOP":
            case "PROGRESS":
                return AppResult.Next;
            case "SET":
                ExecuteSet(channel, data);
                return AppResult.Next;
            case "EXECIF":
                return ExecuteIf(channel, data);
            case "RINGING":
                IndicateRinging(channel);
                return AppResult.Next;
            case "ANSWER":
                if (channel.State == ChannelState.Up)
                {
                    return AppResult.Next;
                }

                // Answer() returns once the first media frame arrives: on a Local pair that is up to
                // one 20 ms frame later, and an update the answered call brings meanwhile (a bridge's
                // connected line) is seen by the next step (as recorded in ari/snoop and ari/dialer).
                // Phones and trunks go on at once (their media is not modelled).
                Answer(channel);
                return channel.IsLocalTwo ? WaitThenNext(channel, AnswerMediaWait) : AppResult.Next;
            case "WAIT":
                return WaitThenNext(channel, TimeSpan.FromSeconds(ParseSeconds(data)));
            case "PLAYBACK":
                if (channel.State != ChannelState.Up)
                {
                    Answer(channel);
                }

                CelStreams(channel, data);
                return WaitThenNext(channel, Sounds.Length(data), () => SetVariable(channel, "PLAYBACKSTATUS", "SUCCESS"));
            case "HANGUP":
                if (int.TryParse(data, NumberStyles.Integer, CultureInfo.InvariantCulture, out var cause))
                {
                    channel.HangupCause = cause;
                }

                channel.HungUpByDialplan = true;
                HangupFromPbx(channel, channel.HangupCause ?? 16);
                return AppResult.Stop;
            case "BUSY":
                SetState(channel, ChannelState.Busy);
                channel.HangupCause = 17;
                IndicateFailure(channel, 17);
                return WaitThenEnd(channel, data);
            case "CONGESTION":
                SetState(channel, ChannelState.Busy);
                channel.HangupCause = 34;
                IndicateFailure(channel, 34);
                return WaitThenEnd(channel, data);
            case "GOTO":
                Goto(channel, data);
                return AppResult.Jump;
            case "GOTOIF":
                return GotoIf(channel, data);
            case "DIAL":
                return StartDialApp(channel, data) ? AppResult.Wait : AppResult.Next;
            case "QUEUE":
                return StartQueueApp(channel, data);
            case "STASIS":
                return _sim.AriEvents.EnterStasis(channel, Dialplan.SplitArgs(data)) ? AppResult.Wait : AppResult.Next;
            case "AMD":
                return ExecuteAmd(channel);
            case "SENDDTMF":
                return SendDtmf(channel, data);
            case "MUSICONHOLD":
                StartMusicOnHold(channel, Dialplan.SplitArgs(data)[0] is { Length: > 0 } moh ? moh : "default");
                return WaitThenNext(channel, data.Contains(',', StringComparison.Ordinal) ? TimeSpan.FromSeconds(ParseSeconds(Dialplan.SplitArgs(data)[1])) : TimeSpan.FromHours(1));
            case "MIXMONITOR":
                StartMixMonitor(channel, Dialplan.SplitArgs(data)[0]);
                return AppResult.Next;
            default:
                // Asterisk: "No application 'X' for extension": the PBX ends and the channel hangs up.
                channel.InPbx = false;
                Teardown(channel, 16, fromPbxEnd: true);
                return AppResult.Stop;
        }
    }

    /// <summary>
    /// app_amd: listens for <see cref="DialledCustomers.AmdSeconds"/>, then sets AMDSTATUS and
    /// AMDCAUSE (causes as app_amd writes them, with amd.conf's default figures) from the channel's
    /// scripted verdict. Its arguments (thresholds) are not modelled.
    /// </summary>
    private AppResult ExecuteAmd(Channel channel) =>
        WaitThenNext(channel, TimeSpan.FromSeconds(_sim.DialledCustomers.AmdSeconds), () =>
        {
            var status = channel.AmdVerdict ?? "HUMAN";
            SetVariable(channel, "AMDSTATUS", status);
            SetVariable(channel, "AMDCAUSE", status switch
            {
                "MACHINE" => "LONGGREETING-1600-1500",
                "NOTSURE" => "TOOLONG-5000",
                _ => "HUMAN-900-800",
            });
        });

    private AppResult WaitThenEnd(Channel channel, string data)
    {
        var generation = ++channel.Generation;
        var seconds = ParseSeconds(data);
        Schedule(TimeSpan.FromSeconds(seconds <= 0 ? 10 : seconds), () =>
        {
            if (channel.Generation == generation && !channel.Gone && !channel.Ending)
            {
                HangupFromPbx(channel, channel.HangupCause ?? 16);
            }
        });
        return AppResult.Wait;
    }

    private static double ParseSeconds(string data) =>
        double.TryParse(data.Split(',')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) ? seconds : 0;

    private void ExecuteSet(Channel channel, string data)
    {
        var equals = data.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            return;
        }

        var name = data[..equals];
        var value = data[(equals + 1)..];
        if (name.StartsWith("DEVICE_STATE(", StringComparison.OrdinalIgnoreCase) && name.EndsWith(')'))
        {
            SetDeviceState(name[13..^1], value);
        }
        else if (name.Equals("CALLERID(name)", StringComparison.OrdinalIgnoreCase))
        {
            SetCallerId(channel, channel.CallerNum, value);
        }
        else if (name.Equals("CALLERID(num)", StringComparison.OrdinalIgnoreCase))
        {
            SetCallerId(channel, value, channel.CallerName);
        }
        else
        {
            SetVariable(channel, name, value);
        }
    }

    private AppResult ExecuteIf(Channel channel, string data)
    {
        var question = data.IndexOf('?', StringComparison.Ordinal);
        if (question < 0)
        {
            return AppResult.Next;
        }

        var condition = data[..question].Trim();
        var branches = data[(question + 1)..];
        var colon = TopLevelIndexOf(branches, ':');
        var chosen = condition is "" or "0" ? (colon >= 0 ? branches[(colon + 1)..] : null) : (colon >= 0 ? branches[..colon] : branches);
        if (chosen is null)
        {
            return AppResult.Next;
        }

        var step = Dialplan.ParseStep(chosen, $"{channel.Context},{channel.Exten},{channel.Priority}");
        channel.LastApplication = step.Application;
        channel.LastData = step.Data;
        return Execute(channel, step.Application, step.Data);
    }

    private static int TopLevelIndexOf(string text, char target)
    {
        var depth = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '(')
            {
                depth++;
            }
            else if (text[i] == ')')
            {
                depth--;
            }
            else if (text[i] == target && depth == 0)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// <c>GotoIf(condition?[labeliftrue][:labeliffalse])</c>: jumps to the chosen destination (written as for
    /// Goto), or goes on to the next priority when that side is empty.
    /// </summary>
    private AppResult GotoIf(Channel channel, string data)
    {
        var question = data.IndexOf('?', StringComparison.Ordinal);
        if (question < 0)
        {
            return AppResult.Next;
        }

        var condition = data[..question].Trim();
        var branches = data[(question + 1)..];
        var colon = branches.IndexOf(':', StringComparison.Ordinal);
        var chosen = (condition is "" or "0" ? (colon >= 0 ? branches[(colon + 1)..] : "") : (colon >= 0 ? branches[..colon] : branches)).Trim();
        if (chosen.Length == 0)
        {
            return AppResult.Next;
        }

        Goto(channel, chosen);
        return AppResult.Jump;
    }

    /// <summary><c>Goto([[context,]extension,]priority)</c>, the priority a number or a label of the target extension.</summary>
    private void Goto(Channel channel, string data)
    {
        var parts = data.Split(',');
        var (context, exten, priority) = parts.Length switch
        {
            3 => (parts[0], parts[1], parts[2]),
            2 => (channel.Context, parts[0], parts[1]),
            _ => (channel.Context, channel.Exten, parts[0]),
        };
        channel.Context = context;
        channel.Exten = exten;
        channel.Priority = int.TryParse(priority, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number)
            ? number
            : Dialplan.LabelPriority(context, exten, priority.Trim())
                // Asterisk: "Priority 'x' must be a number > 0, or valid label": the channel's PBX ends (here: it
                // runs off its extension and hangs up, with a priority that does not exist).
                ?? int.MaxValue;
    }

    /// <summary>The channel's PBX asks for the hang-up (Hangup, Busy/Congestion timeout): SoftHangupRequest, then teardown.</summary>
    private void HangupFromPbx(Channel channel, int cause)
    {
        channel.HangupCause ??= cause;
        HangupRequestEvent(channel, 16, soft: true);
        Teardown(channel, channel.HangupCause.Value, fromPbxEnd: true);
    }

    private AppResult SendDtmf(Channel channel, string data)
    {
        var args = Dialplan.SplitArgs(data);
        var digits = args[0];
        var generation = ++channel.Generation;
        var begin = TimeSpan.FromMilliseconds(100);
        foreach (var digit in digits)
        {
            var at = begin;
            Schedule(at, () => PlayDtmfFrom(channel, digit.ToString(), begin: true));
            Schedule(at + TimeSpan.FromMilliseconds(100), () => PlayDtmfFrom(channel, digit.ToString(), begin: false));
            begin += TimeSpan.FromMilliseconds(352);
        }

        Schedule(begin, () =>
        {
            if (channel.Generation == generation && !channel.Gone && !channel.Ending && channel.InPbx)
            {
                channel.Priority++;
                ContinuePbx(channel);
            }
        });
        return AppResult.Wait;
    }

    /// <summary>DTMF sent by <paramref name="sender"/> as media: the Local partner receives it, and so does the far side of its call.</summary>
    private void PlayDtmfFrom(Channel sender, string digit, bool begin)
    {
        if (sender.Gone)
        {
            return;
        }

        var first = sender.LocalPeer ?? sender;
        if (first.Gone)
        {
            return;
        }

        DtmfEvent(first, digit, begin, "Received");
        if (first.Bridge is not null && IsFeatureDigit(first, digit))
        {
            // The bridge holds a transfer feature digit ('#') while it waits for the rest of a code;
            // after featuredigittimeout it passes the digit on as media, straight to the far Local half.
            if (!begin && FarEnd(first) is { LocalPeer: { } farPeer })
            {
                Schedule(FeatureDigitTimeout, () =>
                {
                    if (!farPeer.Gone)
                    {
                        DtmfEvent(farPeer, digit, begin: true, "Received");
                    }
                });
                Schedule(FeatureDigitTimeout + TimeSpan.FromMilliseconds(100), () =>
                {
                    if (!farPeer.Gone)
                    {
                        DtmfEvent(farPeer, digit, begin: false, "Received");
                    }
                });
            }

            return;
        }

        var far = FarEnd(first);
        if (far is not null && !far.Gone)
        {
            DtmfEvent(far, digit, begin, "Sent");
            if (far.LocalPeer is { Gone: false } farPeer)
            {
                DtmfEvent(farPeer, digit, begin, "Received");
            }
        }
    }

    private static readonly TimeSpan FeatureDigitTimeout = TimeSpan.FromMilliseconds(1100);

    /// <summary>True when <paramref name="digit"/> starts a transfer feature code this bridged party may use (Dial options T / t).</summary>
    private static bool IsFeatureDigit(Channel channel, string digit)
    {
        if (digit != "#" && digit != "*")
        {
            return false;
        }

        if (channel.OutgoingDial is { } asCaller)
        {
            return asCaller.Options.Contains('T', StringComparison.Ordinal);
        }

        return channel.IncomingDial is { Caller: not null } asCallee && asCallee.Options.Contains('t', StringComparison.Ordinal);
    }

    /// <summary>The channel on the other side of a bridge or an in-progress Dial.</summary>
    internal static Channel? FarEnd(Channel channel)
    {
        if (channel.Bridge is { } bridge)
        {
            return bridge.Members.FirstOrDefault(m => m != channel);
        }

        // While the callee hears the Dial announcement (A(...)) the caller's media goes nowhere.
        if (channel.OutgoingDial is { Finished: false, AnsweredAt: null } dial)
        {
            return dial.Destination;
        }

        return null;
    }

    internal void DtmfEvent(Channel channel, string digit, bool begin, string direction, int durationMs = 100)
    {
        if (begin)
        {
            ChannelEvent("DTMFBegin", channel, AmiPrivilege.Dtmf, ("Digit", digit), ("Direction", direction));
        }
        else
        {
            ChannelEvent("DTMFEnd", channel, AmiPrivilege.Dtmf, ("Digit", digit), ("DurationMs", durationMs.ToString(CultureInfo.InvariantCulture)), ("Direction", direction));
            Cel("DTMF", channel, string.Create(CultureInfo.InvariantCulture, $"{{\"digit\":\"{digit}\",\"duration_ms\":{durationMs}}}"));
            if (direction == "Received")
            {
                _sim.AriEvents.ChannelDtmfReceived(channel, digit, durationMs);
                RecordingHeardDigit(channel, digit);
            }
        }
    }

    internal void StartMusicOnHold(Channel channel, string mohClass)
    {
        channel.MusicOnHoldClass = mohClass;
        ChannelEvent("MusicOnHoldStart", channel, AmiPrivilege.Call, ("Class", mohClass));
        CelMusicOnHold(channel, mohClass);
    }

    internal void StopMusicOnHold(Channel channel)
    {
        if (channel.MusicOnHoldClass is not null)
        {
            channel.MusicOnHoldClass = null;
            ChannelEvent("MusicOnHoldStop", channel);
            CelMusicOnHold(channel, null);
        }
    }
}
