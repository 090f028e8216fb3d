namespace CtiBridge.PbxSim.Model;

/// <summary>One Asterisk channel (a Local half or a PJSIP leg).</summary>
internal sealed class Channel
{
    public required string Name { get; init; }
}
