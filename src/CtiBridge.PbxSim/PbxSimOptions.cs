namespace CtiBridge.PbxSim;

/// <summary>
/// Everything PbxSim is configured with: listening ports, AMI and ARI users, the dialplan, the sound
/// catalogue and where recordings go. The defaults reproduce the Asterisk 22 instance that recorded
/// <c>../shared/fixtures/asterisk</c>, so a default-configured PbxSim answers the recorded requests
/// the way that instance did.
/// </summary>
public sealed class PbxSimOptions
{
    /// <summary>Address both servers listen on. Loopback by default (and in every test).</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>AMI TCP port; 0 picks a free port (tests).</summary>
    public int AmiPort { get; set; } = 5038;

    /// <summary>ARI HTTP/WebSocket port; 0 picks a free port (tests).</summary>
    public int AriPort { get; set; } = 8088;

    /// <summary>AMI accounts (manager.conf).</summary>
    public List<AmiUserOptions> AmiUsers { get; set; } =
    [
        new() { Username = "ctibridge", Secret = "ctibridge-secret", Read = "all", Write = "all" },
        new() { Username = "reporter", Secret = "reporter-secret", Read = "all", Write = "none" },
    ];

    /// <summary>ARI accounts (ari.conf).</summary>
    public List<AriUserOptions> AriUsers { get; set; } =
    [
        new() { Username = "ctibridge", Password = "ctibridge-secret" },
    ];

    /// <summary>How long a failed AMI login waits before answering (Asterisk: about one second).</summary>
    public TimeSpan FailedLoginDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The dialplan: context → extension (or <c>_pattern</c>) → steps written as in extensions.conf,
    /// e.g. <c>Dial(Local/agent1@agents,30,tT)</c>. Null means the recording instance's dialplan.
    /// </summary>
    public Dictionary<string, Dictionary<string, List<string>>>? Dialplan { get; set; }

    /// <summary>Sound catalogue: name → playback length in seconds. Null means the built-in catalogue.</summary>
    public Dictionary<string, double>? Sounds { get; set; }

    /// <summary>Where recordings (MixMonitor, ARI record) are written as WAV files. Null: a temp folder.</summary>
    public string? RecordingDirectory { get; set; }

    /// <summary>Global dialplan variables at start-up.</summary>
    public Dictionary<string, string> GlobalVariables { get; set; } = new(StringComparer.Ordinal)
    {
        ["AGENT_RING_SECS"] = "1",
    };

    /// <summary>
    /// Whether CEL events are published (cel.conf <c>enable</c> with cel_manager). Asterisk's default
    /// is off; the recording instance had it on for every event type and the applications dial,
    /// queue, stasis, playback, chanspy and mixmonitor, which is what PbxSim logs when this is true.
    /// </summary>
    public bool Cel { get; set; }

    /// <summary>Desk phones and trunks: PJSIP endpoints by name.</summary>
    public List<EndpointOptions> Endpoints { get; set; } = [];

    /// <summary>
    /// How long a desk phone with no script (<c>Phone.AnswersAfter</c>, <c>NeverAnswers</c> …) rings before its user
    /// answers. Default 1 s. Tests can run with another value to find the ones that silently count on it.
    /// </summary>
    public TimeSpan UnscriptedPhoneAnswersAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// asterisk.conf <c>systemname</c>. Empty (Asterisk's default, and the recording instance's) gives
    /// channel ids <c>epoch.seq</c>; a name gives <c>name-epoch.seq</c>, as Asterisk does, so two
    /// servers started in the same second cannot hand out the same ids. Shown in ARI's
    /// <c>/asterisk/info</c> (<c>config.name</c>) and AMI's CoreSettings (<c>SystemName</c>).
    /// </summary>
    public string SystemName { get; set; } = "";

    /// <summary>
    /// For tests: the seconds part of channel ids, fixed instead of read from the clock. Two servers without a
    /// systemname (or sharing one) then give their first channels the same ids, as two Asterisks do when they
    /// number channels in the same second: a channel-id clash made deterministic. Null (default): the clock's
    /// seconds, as Asterisk.
    /// </summary>
    public long? UniqueIdSeconds { get; set; }

    /// <summary>
    /// app_queue's queues (queues.conf) with their static members. Null means the recording
    /// instance's three (support, sales, linear); an empty list means no queues.
    /// </summary>
    public List<QueueOptions>? Queues { get; set; }

    /// <summary>One line per problem in these options (where and what), empty when PbxSim can start with them.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (Queues is { } queues)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < queues.Count; i++)
            {
                var where = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"PbxSim.Queues[{i}]");
                if (queues[i] is not { } queue)
                {
                    problems.Add($"{where}: empty entry");
                    continue;
                }

                problems.AddRange(queue.Problems(where));
                if (queue.Name.Length > 0 && !names.Add(queue.Name))
                {
                    problems.Add($"{where}: queue '{queue.Name}' is defined twice");
                }
            }
        }

        return problems;
    }
}

/// <summary>An AMI account.</summary>
public sealed class AmiUserOptions
{
    /// <summary>Login name.</summary>
    public string Username { get; set; } = "";

    /// <summary>Plain secret (also used for MD5 challenge logins).</summary>
    public string Secret { get; set; } = "";

    /// <summary>Read classes, e.g. <c>all</c> or <c>call,agent</c>.</summary>
    public string Read { get; set; } = "all";

    /// <summary>Write classes, e.g. <c>all</c> or <c>none</c>.</summary>
    public string Write { get; set; } = "all";
}

/// <summary>An ARI account.</summary>
public sealed class AriUserOptions
{
    /// <summary>Basic-auth user name.</summary>
    public string Username { get; set; } = "";

    /// <summary>Basic-auth password.</summary>
    public string Password { get; set; } = "";
}

/// <summary>A PJSIP endpoint: a desk phone or a trunk.</summary>
public sealed class EndpointOptions
{
    /// <summary>Endpoint name; its channels are <c>PJSIP/&lt;name&gt;-XXXXXXXX</c>.</summary>
    public string Name { get; set; } = "";

    /// <summary>Whether the endpoint starts registered (phones) or is a trunk (always reachable).</summary>
    public bool Registered { get; set; } = true;

    /// <summary>A trunk accepts many calls at once; a phone is busy while in use unless call waiting is on.</summary>
    public bool IsTrunk { get; set; }

    /// <summary>Whether a phone accepts a second call while in use.</summary>
    public bool CallWaiting { get; set; }

    /// <summary>Context calls from this endpoint start in.</summary>
    public string Context { get; set; } = "from-internal";
}
