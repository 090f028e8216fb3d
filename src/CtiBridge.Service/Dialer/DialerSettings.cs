namespace CtiBridge.Service.Dialer;

/// <summary>The <c>dialer</c> section of ctibridge.json: whether this instance runs outbound campaigns, and how.</summary>
public sealed class DialerSettings
{
    /// <summary>Run the campaigns marked running in the database (default false).</summary>
    public bool Enabled { get; set; }

    /// <summary>The Asterisk server (by name) that places the calls; default the first one configured.</summary>
    public string? Server { get; set; }

    /// <summary>
    /// The Stasis application of the dialer's channels (customers and agents' nailed-up channels);
    /// separate from call control's, so each sees only its own calls. Add it to ari.conf's allowed apps if restricted.
    /// </summary>
    public string Application { get; set; } = "ctibridge-dialer";

    /// <summary>How often every running campaign is paced (seconds; also on each agent becoming ready).</summary>
    public double PlanIntervalSeconds { get; set; } = 1;

    /// <summary>How often the list of running campaigns and their settings are re-read (seconds).</summary>
    public double CampaignRefreshSeconds { get; set; } = 5;

    /// <summary>This instance's id for hopper claims; default host name + a random suffix (unique per start).</summary>
    public string? InstanceId { get; set; }

    /// <summary>
    /// The dialplan context of answering-machine detection (extension <c>s</c>), or null for none.
    /// When set, every answered customer of a campaign whose <c>machines</c> is not
    /// <c>ConnectToAgent</c> is sent there with ARI <c>continue</c>; the context must run <c>AMD()</c>
    /// and return with <c>Stasis(APPLICATION,dialer-amd,${AMDSTATUS},${AMDCAUSE})</c> (docs/dialer.md).
    /// </summary>
    public string? AmdContext { get; set; }

    /// <summary>
    /// Directory of the dialer's call-record journal (its attempts as <c>calls</c> rows are kept
    /// there while PostgreSQL is unreachable, then replayed). Not the one of call control: each
    /// journal has one writer.
    /// </summary>
    public string RecordJournalDirectory { get; set; } = "/var/lib/ctibridge/dialer";

    /// <summary>Size bound of that journal in MiB (an alarm is logged at 80 %).</summary>
    public int RecordJournalMaxMegabytes { get; set; } = 64;
}
