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
}
