using CtiBridge.Core.Acd;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.CallControl;

/// <summary>The post-call satisfaction survey of a queue (SAT-01/SAT-05: one score, 1–10).</summary>
public sealed class SurveySettings
{
    /// <summary>The question played to the caller (a sound file name), e.g. "please rate our service from 1 to 9, or 0 for 10".</summary>
    public string Prompt { get; set; } = "ctibridge-survey";

    /// <summary>Played after a valid answer, before the caller is released; empty for none.</summary>
    public string? ThanksPrompt { get; set; } = "auth-thankyou";

    /// <summary>How long the caller has to press a key after the question starts.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The question's code in <c>survey_answers.question</c>.</summary>
    public string Question { get; set; } = "satisfaction";
}

/// <summary>
/// Desk-phone feature codes (the digits after <c>Stasis(ctibridge,feature,…)</c>). Defaults match
/// asterisk-config/extensions.conf.
/// </summary>
public sealed class FeatureCodeSettings
{
    /// <summary>Log in: the agent ID, then the PIN, each ended with #.</summary>
    public string Login { get; set; } = "*90";

    /// <summary>Log out.</summary>
    public string Logout { get; set; } = "*91";

    /// <summary>Pause; the reason digit follows in the code (<c>*921</c>) or is asked for.</summary>
    public string Pause { get; set; } = "*92";

    /// <summary>Resume (ready).</summary>
    public string Resume { get; set; } = "*93";

    /// <summary>End wrap-up now.</summary>
    public string EndWrapUp { get; set; } = "*94";

    /// <summary>
    /// Pick up (抢接) the longest-ringing call offered to another agent of one of the caller's queues:
    /// the ringing agent's phone stops (not a missed call of theirs) and the caller is bridged to this phone.
    /// </summary>
    public string PickUp { get; set; } = "*95";

    /// <summary>The prompt when nothing is ringing to pick up (then the phone hangs up).</summary>
    public string NothingToPickUpPrompt { get; set; } = "ctibridge-nothing-to-pick-up";

    /// <summary>Hear how many calls rang this agent today and were not answered (AGT-14).</summary>
    public string MissedCalls { get; set; } = "*96";

    /// <summary>The prompt after the missed-call count (installation-provided, like the survey's), e.g. "missed calls".</summary>
    public string MissedCallsPrompt { get; set; } = "ctibridge-missed-calls";

    /// <summary>Supervisor: listen to an agent's call (the agent ID follows, e.g. <c>*812001</c>).</summary>
    public string Listen { get; set; } = "*81";

    /// <summary>Supervisor: whisper (coach) to the agent only.</summary>
    public string Whisper { get; set; } = "*82";

    /// <summary>Supervisor: barge in (three-way with agent and caller).</summary>
    public string Barge { get; set; } = "*83";

    /// <summary>Supervisor: take the call over (the agent is cut off, 拦截).</summary>
    public string TakeOver { get; set; } = "*84";

    /// <summary>Supervisor: force hang-up (强拆) of the agent's current call (agent ID after the code, or asked for).</summary>
    public string ForceHangUp { get; set; } = "*85";

    /// <summary>Supervisor: force the agent into pause; the reason digit (<see cref="PauseReasons"/>) is asked after the PIN.</summary>
    public string ForcePause { get; set; } = "*86";

    /// <summary>Supervisor: force the paused agent ready again.</summary>
    public string ForceResume { get; set; } = "*87";

    /// <summary>Supervisor: force the agent's logout (after the current call, if any).</summary>
    public string ForceLogout { get; set; } = "*88";

    /// <summary>Pause reason per digit (示忙 reasons); digits not listed are refused.</summary>
    public Dictionary<string, string> PauseReasons { get; set; } = new(StringComparer.Ordinal)
    {
        ["1"] = Core.Acd.PauseReasons.Break,
        ["2"] = Core.Acd.PauseReasons.Meal,
        ["3"] = Core.Acd.PauseReasons.Training,
        ["4"] = "meeting",
    };

    /// <summary>Wrong PINs allowed per call before the login is refused (the issue asks for three).</summary>
    public int LoginTries { get; set; } = 3;

    /// <summary>How long the phone waits for each entry (agent ID, PIN, reason digit).</summary>
    public TimeSpan DigitTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>A supervisor (班长) who may monitor agents' calls.</summary>
public sealed class SupervisorSettings
{
    /// <summary>Supervisor ID.</summary>
    public string Id { get; set; } = string.Empty;

    /// <summary>The supervisor's desk phone endpoint, e.g. <c>PJSIP/1901</c>: calls from it may use supervisor codes.</summary>
    public string Extension { get; set; } = string.Empty;

    /// <summary>PIN hash (<c>ctibridge pin-hash</c>), asked for before each supervisor function by feature code.</summary>
    public string PinHash { get; set; } = string.Empty;
}

/// <summary>Checks the agent-side call settings (recording, survey, feature codes, supervisors).</summary>
internal static class AgentCallConfiguration
{
    private static readonly string[] RecordingFormats = ["wav", "gsm", "ulaw", "alaw", "sln", "wav49", "g722"];

    public static void Validate(CallControlSettings settings, List<SettingsProblem> problems)
    {
        if (!RecordingFormats.Contains(settings.RecordingFormat, StringComparer.Ordinal))
        {
            problems.Add(new SettingsProblem("callControl.recordingFormat", $"'{settings.RecordingFormat}' is not a recording format ({string.Join(", ", RecordingFormats)}){SpellingSuggestion.DidYouMean(settings.RecordingFormat, RecordingFormats)}"));
        }

        for (var i = 0; i < settings.Queues.Count; i++)
        {
            if (settings.Queues[i].Survey is not { } survey)
            {
                continue;
            }

            var at = $"callControl.queues[{i}].survey";
            if (string.IsNullOrWhiteSpace(survey.Prompt))
            {
                problems.Add(new SettingsProblem($"{at}.prompt", "is required (the sound file asking for the score)"));
            }

            if (survey.Timeout <= TimeSpan.Zero)
            {
                problems.Add(new SettingsProblem($"{at}.timeout", $"{survey.Timeout} must be longer than zero"));
            }

            if (string.IsNullOrWhiteSpace(survey.Question))
            {
                problems.Add(new SettingsProblem($"{at}.question", "is required (e.g. \"satisfaction\")"));
            }
        }

        var codes = settings.FeatureCodes;
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, code) in new[]
        {
            ("login", codes.Login), ("logout", codes.Logout), ("pause", codes.Pause), ("resume", codes.Resume), ("endWrapUp", codes.EndWrapUp), ("pickUp", codes.PickUp), ("missedCalls", codes.MissedCalls),
            ("listen", codes.Listen), ("whisper", codes.Whisper), ("barge", codes.Barge), ("takeOver", codes.TakeOver),
            ("forceHangUp", codes.ForceHangUp), ("forcePause", codes.ForcePause), ("forceResume", codes.ForceResume), ("forceLogout", codes.ForceLogout),
        })
        {
            if (string.IsNullOrWhiteSpace(code) || code.Any(c => !(char.IsAsciiDigit(c) || c is '*' or '#')))
            {
                problems.Add(new SettingsProblem($"callControl.featureCodes.{name}", $"'{code}' is not a phone code (digits, * and # only, e.g. \"*90\")"));
            }
            else if (!seen.TryAdd(code, name))
            {
                problems.Add(new SettingsProblem($"callControl.featureCodes.{name}", $"'{code}' is already the {seen[code]} code"));
            }
        }

        foreach (var (digit, reason) in codes.PauseReasons)
        {
            if (digit.Length != 1 || !char.IsAsciiDigit(digit[0]) || string.IsNullOrWhiteSpace(reason))
            {
                problems.Add(new SettingsProblem($"callControl.featureCodes.pauseReasons.{digit}", "must map one digit (0–9) to a reason code, e.g. \"1\": \"break\""));
            }
        }

        if (codes.LoginTries < 1)
        {
            problems.Add(new SettingsProblem("callControl.featureCodes.loginTries", $"{codes.LoginTries} must be at least 1"));
        }

        if (codes.DigitTimeout <= TimeSpan.Zero)
        {
            problems.Add(new SettingsProblem("callControl.featureCodes.digitTimeout", $"{codes.DigitTimeout} must be longer than zero"));
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < settings.Supervisors.Count; i++)
        {
            var supervisor = settings.Supervisors[i];
            var at = $"callControl.supervisors[{i}]";
            if (string.IsNullOrWhiteSpace(supervisor.Id) || !ids.Add(supervisor.Id))
            {
                problems.Add(new SettingsProblem($"{at}.id", string.IsNullOrWhiteSpace(supervisor.Id) ? "is required" : $"supervisor '{supervisor.Id}' is configured twice"));
            }

            if (supervisor.Extension.IndexOf('/', StringComparison.Ordinal) <= 0)
            {
                problems.Add(new SettingsProblem($"{at}.extension", $"'{supervisor.Extension}' is not a dialable endpoint; write it as TECH/resource, e.g. \"PJSIP/1901\""));
            }

            if (!AgentPin.IsWellFormed(supervisor.PinHash))
            {
                problems.Add(new SettingsProblem($"{at}.pinHash", "is not a PIN hash; create one with `ctibridge pin-hash`, never write the PIN itself"));
            }
        }
    }
}
