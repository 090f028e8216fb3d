using System.Text.Json;
using System.Text.Json.Serialization;

namespace CtiBridge.PbxSim;

/// <summary>The <c>pbxsim</c> executable's configuration file: the simulator, optional traffic and dialled-customer behaviour.</summary>
public sealed class PbxSimConfig
{
    /// <summary>JSON reading options (case-insensitive names, comments and trailing commas allowed).</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Ports, users, endpoints, dialplan, sounds, recording folder.</summary>
    public PbxSimOptions PbxSim { get; set; } = new();

    /// <summary>Inbound calls to generate, if any.</summary>
    public InboundTraffic? Traffic { get; set; }

    /// <summary>How customers dialled through trunks answer.</summary>
    public DialledCustomers? DialledCustomers { get; set; }

    /// <summary>How the people at the desk phones answer and how long they talk (every phone answers after 1 s without it).</summary>
    public DeskPhoneBehaviour? DeskPhones { get; set; }

    /// <summary>
    /// The desk phones of dialer agents (listed in <see cref="DeskPhoneBehaviour.Endpoints"/>, which
    /// is required here): the call that rings them is their nailed-up line, kept up; the talk times
    /// are per customer bridged to it. Applied after <see cref="DeskPhones"/>, so it wins for these phones.
    /// </summary>
    public DeskPhoneBehaviour? DialerPhones { get; set; }

    /// <summary>Every problem of the behaviour sections, one line each naming the section and field.</summary>
    public IEnumerable<string> BehaviourProblems() =>
        (DeskPhones?.Problems("DeskPhones") ?? [])
            .Concat(DialerPhones?.Problems("DialerPhones") ?? [])
            .Concat(DialerPhones is { Endpoints.Count: 0 } ? ["DialerPhones.Endpoints: list the dialer agents' phones (e.g. [ \"1017\", \"1018\" ]); without it every desk phone would keep its calls up"] : [])
            .Concat(Traffic?.Problems() ?? []);
}

/// <summary>
/// The people at the desk phones (every endpoint that is not a trunk, or those listed): they pick up
/// after a human-like ring delay and, optionally, end the call after a talk time.
/// </summary>
public sealed class DeskPhoneBehaviour
{
    /// <summary>Endpoint names this applies to; empty means every endpoint that is not a trunk.</summary>
    public List<string> Endpoints { get; set; } = [];

    /// <summary>Shortest ring before the phone is picked up.</summary>
    public double AnswerMinSeconds { get; set; } = 2;

    /// <summary>Longest ring before the phone is picked up (uniform draw between the two for each call).</summary>
    public double AnswerMaxSeconds { get; set; } = 5;

    /// <summary>Shortest talk time before the agent hangs up; 0 means the agent never hangs up first.</summary>
    public double TalkMinSeconds { get; set; }

    /// <summary>Longest talk time (uniform draw between the two for each call).</summary>
    public double TalkMaxSeconds { get; set; }

    /// <summary>One line per problem, naming the field; empty when the section is usable.</summary>
    /// <param name="section">The section's name in the file, for the messages.</param>
    public IEnumerable<string> Problems(string section = "DeskPhones")
    {
        if (AnswerMinSeconds < 0 || AnswerMaxSeconds < AnswerMinSeconds)
        {
            yield return $"{section}.AnswerMinSeconds/AnswerMaxSeconds: need 0 <= min <= max, got {AnswerMinSeconds} and {AnswerMaxSeconds}";
        }

        if (TalkMinSeconds < 0 || (TalkMinSeconds > 0 && TalkMaxSeconds < TalkMinSeconds))
        {
            yield return $"{section}.TalkMinSeconds/TalkMaxSeconds: need 0 <= min <= max, got {TalkMinSeconds} and {TalkMaxSeconds}";
        }
    }

    /// <summary>Scripts every phone this applies to on <paramref name="simulator"/>; returns how many.</summary>
    /// <param name="simulator">The simulator whose phones are scripted.</param>
    /// <param name="nailedUp">
    /// True for dialer agents' phones: the line is kept up and the talk time is per customer bridged
    /// to it (<see cref="Phone.HoldsANailedUpLine"/>); false: the agent hangs up after the talk time.
    /// </param>
    public int ApplyTo(PbxSimulator simulator, bool nailedUp = false)
    {
        ArgumentNullException.ThrowIfNull(simulator);
        var names = Endpoints.Count > 0 ? Endpoints : simulator.Options.Endpoints.Where(e => !e.IsTrunk).Select(e => e.Name).ToList();
        TimeSpan? talkMin = TalkMinSeconds > 0 ? TimeSpan.FromSeconds(TalkMinSeconds) : null;
        TimeSpan? talkMax = TalkMinSeconds > 0 ? TimeSpan.FromSeconds(Math.Max(TalkMinSeconds, TalkMaxSeconds)) : null;
        foreach (var name in names)
        {
            if (nailedUp)
            {
                // Without a talk time the conversations end only when the customer or CtiBridge ends them.
                simulator.Phone(name).HoldsANailedUpLine(TimeSpan.FromSeconds(AnswerMinSeconds), TimeSpan.FromSeconds(AnswerMaxSeconds), talkMin, talkMax);
            }
            else
            {
                simulator.Phone(name).AnswersLikeAPerson(TimeSpan.FromSeconds(AnswerMinSeconds), TimeSpan.FromSeconds(AnswerMaxSeconds), talkMin, talkMax);
            }
        }

        return names.Count;
    }
}
