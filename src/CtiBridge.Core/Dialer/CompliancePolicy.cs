namespace CtiBridge.Core.Dialer;

/// <summary>
/// The nuisance-call rules a campaign must keep. <see cref="UsTelemarketingSalesRule"/> (16 CFR
/// 310.4(b)(4)) is the default; other countries' rules are other instances.
/// </summary>
public sealed record CompliancePolicy
{
    /// <summary>A short name for records and logs, e.g. "US-TSR".</summary>
    public required string Name { get; init; }

    /// <summary>Highest allowed share of live answers that are abandoned (0.03 = 3 %).</summary>
    public double MaxAbandonRate { get; init; } = 0.03;

    /// <summary>
    /// The measuring period (30 days under the TSR). While a campaign is younger than this the
    /// campaign-to-date rate is the one that counts; after that the rolling window.
    /// </summary>
    public TimeSpan AbandonWindow { get; init; } = TimeSpan.FromDays(30);

    /// <summary>A live answer with no agent connected within this delay is abandoned (2 s under the TSR).</summary>
    public TimeSpan ConnectDeadline { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>An unanswered call may not be given up sooner (15 s under the TSR).</summary>
    public TimeSpan MinimumRingTime { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>True when every abandoned call must get the recorded abandon message (name and number of the seller).</summary>
    public bool RequiresAbandonMessage { get; init; } = true;

    /// <summary>
    /// True when answering-machine detection calls that were really people count as abandons
    /// (the UK Ofcom approach). The US TSR does not count them.
    /// </summary>
    public bool CountsMachineFalsePositives { get; init; }

    /// <summary>The US FTC Telemarketing Sales Rule safe harbour: 3 % per 30 days, 2 s, 15 s, message required.</summary>
    public static CompliancePolicy UsTelemarketingSalesRule { get; } = new() { Name = "US-TSR" };

    /// <summary>
    /// A UK Ofcom-style profile: Ofcom dropped the fixed 3 % figure in 2017, but 3 % per 24 hours
    /// per campaign is still the usual working limit; AMD false positives count as abandons.
    /// </summary>
    public static CompliancePolicy UkOfcom { get; } = new()
    {
        Name = "UK-Ofcom",
        AbandonWindow = TimeSpan.FromHours(24),
        CountsMachineFalsePositives = true,
    };

    /// <summary>Every problem with the policy, empty when it is valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Name))
        {
            errors.Add("compliance policy Name is empty");
        }

        if (!(MaxAbandonRate >= 0 && MaxAbandonRate < 1))
        {
            errors.Add($"compliance policy '{Name}': MaxAbandonRate must be in [0, 1) (was {MaxAbandonRate})");
        }

        if (AbandonWindow <= TimeSpan.Zero)
        {
            errors.Add($"compliance policy '{Name}': AbandonWindow must be positive (was {AbandonWindow})");
        }

        if (ConnectDeadline <= TimeSpan.Zero)
        {
            errors.Add($"compliance policy '{Name}': ConnectDeadline must be positive (was {ConnectDeadline})");
        }

        if (MinimumRingTime < TimeSpan.Zero)
        {
            errors.Add($"compliance policy '{Name}': MinimumRingTime must not be negative (was {MinimumRingTime})");
        }

        return errors;
    }
}
