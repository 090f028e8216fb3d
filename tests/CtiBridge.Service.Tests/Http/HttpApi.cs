using CtiBridge.Data.Access;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Tests.CallControl;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CtiBridge.Service.Tests.Http;

/// <summary>
/// The service's HTTP API as the API tests reach it: the rig's loopback address, API keys of any role
/// made in the rig's own database, and clients carrying them. Shared by the HTTP test classes (and
/// linked into the fault suite) so each does not set up its host and keys again.
/// </summary>
internal static class HttpApi
{
    /// <summary>The queue the agent API tests serve: support, least recent, 5 s ring, 1 s wrap-up.</summary>
    public static CallQueueSettings SupportQueue() => new()
    {
        Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(1), MusicOnHold = "default",
    };

    /// <summary>Where the rig's service listens (a free loopback port chosen at start).</summary>
    public static Uri Address(CallCenterRig rig) =>
        new(rig.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());

    /// <summary>A client of the rig's API carrying <paramref name="token"/> as its bearer key (the caller disposes it).</summary>
    public static HttpClient Client(CallCenterRig rig, string token)
    {
        var client = new HttpClient { BaseAddress = Address(rig) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>A new API key of <paramref name="role"/> (bound to <paramref name="agentId"/> for an agent key), stored in the rig's database.</summary>
    public static async Task<string> KeyAsync(CallCenterRig rig, ApiRole role, CancellationToken ct, string? agentId = null)
    {
        var keys = new ApiKeyStore(rig.Services.GetRequiredService<NpgsqlDataSource>(), TimeProvider.System);
        return (await keys.CreateAsync($"{role}-{Guid.NewGuid():N}"[..24], role, agentId, "test", ct)).Token;
    }

    /// <summary>A client of the rig's API with a new key of <paramref name="role"/>.</summary>
    public static async Task<HttpClient> ClientAsync(CallCenterRig rig, ApiRole role, CancellationToken ct, string? agentId = null) =>
        Client(rig, await KeyAsync(rig, role, ct, agentId));
}
