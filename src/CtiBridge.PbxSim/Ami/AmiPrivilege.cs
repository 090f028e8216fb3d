namespace CtiBridge.PbxSim.Ami;

/// <summary>Asterisk's manager permission classes (<c>manager.conf</c> read/write), as bit flags.</summary>
[Flags]
public enum AmiPrivilege
{
    /// <summary>No class.</summary>
    None = 0,
    /// <summary>system</summary>
    System = 1 << 0,
    /// <summary>call</summary>
    Call = 1 << 1,
    /// <summary>log</summary>
    Log = 1 << 2,
    /// <summary>verbose</summary>
    Verbose = 1 << 3,
    /// <summary>command</summary>
    Command = 1 << 4,
    /// <summary>agent</summary>
    Agent = 1 << 5,
    /// <summary>user</summary>
    User = 1 << 6,
    /// <summary>config</summary>
    Config = 1 << 7,
    /// <summary>dtmf</summary>
    Dtmf = 1 << 8,
    /// <summary>reporting</summary>
    Reporting = 1 << 9,
    /// <summary>cdr</summary>
    Cdr = 1 << 10,
    /// <summary>dialplan</summary>
    Dialplan = 1 << 11,
    /// <summary>originate</summary>
    Originate = 1 << 12,
    /// <summary>agi</summary>
    Agi = 1 << 13,
    /// <summary>cc</summary>
    CallCompletion = 1 << 14,
    /// <summary>aoc</summary>
    AdviceOfCharge = 1 << 15,
    /// <summary>test</summary>
    Test = 1 << 16,
    /// <summary>security</summary>
    Security = 1 << 17,
    /// <summary>message</summary>
    Message = 1 << 18,
    /// <summary>all</summary>
    All = (1 << 19) - 1,
}

/// <summary>Converts permission classes to and from Asterisk's comma-separated names.</summary>
public static class AmiPrivileges
{
    private static readonly (string Name, AmiPrivilege Flag)[] Names =
    [
        ("system", AmiPrivilege.System), ("call", AmiPrivilege.Call), ("log", AmiPrivilege.Log),
        ("verbose", AmiPrivilege.Verbose), ("command", AmiPrivilege.Command), ("agent", AmiPrivilege.Agent),
        ("user", AmiPrivilege.User), ("config", AmiPrivilege.Config), ("dtmf", AmiPrivilege.Dtmf),
        ("reporting", AmiPrivilege.Reporting), ("cdr", AmiPrivilege.Cdr), ("dialplan", AmiPrivilege.Dialplan),
        ("originate", AmiPrivilege.Originate), ("agi", AmiPrivilege.Agi), ("cc", AmiPrivilege.CallCompletion),
        ("aoc", AmiPrivilege.AdviceOfCharge), ("test", AmiPrivilege.Test), ("security", AmiPrivilege.Security),
        ("message", AmiPrivilege.Message),
    ];

    /// <summary>
    /// Parses a manager.conf permission list such as <c>all</c>, <c>none</c> or <c>call,agent</c>.
    /// </summary>
    /// <exception cref="FormatException">An unknown class name, with the name in the message.</exception>
    public static AmiPrivilege Parse(string? list)
    {
        var result = AmiPrivilege.None;
        foreach (var part in (list ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part.Equals("all", StringComparison.OrdinalIgnoreCase))
            {
                result |= AmiPrivilege.All;
            }
            else if (!part.Equals("none", StringComparison.OrdinalIgnoreCase))
            {
                var match = Array.Find(Names, n => n.Name.Equals(part, StringComparison.OrdinalIgnoreCase));
                result |= match.Name is not null
                    ? match.Flag
                    : throw new FormatException($"Unknown AMI permission class '{part}' in '{list}' (expected all, none or a list of {string.Join(", ", Names.Select(n => n.Name))}).");
            }
        }

        return result;
    }

    /// <summary>The <c>Privilege:</c> header value of an event of this class, e.g. <c>call,all</c>.</summary>
    public static string EventHeader(AmiPrivilege privilege)
    {
        var names = Names.Where(n => (privilege & n.Flag) != 0).Select(n => n.Name);
        return string.Join(',', names.Append("all"));
    }
}
