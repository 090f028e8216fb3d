using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Access;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Cli;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

using CtiBridge.Service.Tests.Cli;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// The customers table's editors end to end (PbxSim + PostgreSQL): <c>ctibridge customers import</c>
/// refuses a bad file line by line and imports a good one all at once, the HTTP API adds, reads,
/// lists and removes customers with role checks and field errors, and the calls that follow are
/// looked up with what the editors wrote (blacklisted caller released, VIP queued with its CRM ID).
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class CustomerEditorTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>, IDisposable
{
    private static readonly Dictionary<string, double> Sounds = new(StringComparer.Ordinal) { ["ss-noservice"] = 0.3 };
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ctibridge-customers-");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Delete(recursive: true);

    private Task<(int ExitCode, string Output, string Error)> CliAsync(params string[] args) => CommandLineRun.AgainstAsync(database.Database.ConnectionString, args);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    private async Task<HttpClient> ClientAsync(CallCenterRig rig, ApiRole role)
    {
        var address = rig.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var token = (await new ApiKeyStore(database.Database.DataSource, TimeProvider.System).CreateAsync($"{role}-{Guid.NewGuid():N}"[..24], role, null, "test", Ct)).Token;
        var client = new HttpClient { BaseAddress = new Uri(address) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    [Fact]
    public async Task CliImportAndHttpEditor_WriteWhatTheNextCallsAreLookedUpWith()
    {
        // A bad file: every problem named by line and column, nothing imported.
        var bad = await CliAsync("customers", "import", Write("bad.csv",
            "number,vip,blocked,language,colour\n5554000,yes,no,en,red\n55x4001,maybe,no,english,\n5554000,no,no,,\n"));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("line 1, column 5: 'colour' is not a customers column", bad.Error, StringComparison.Ordinal);
        Assert.Contains("line 3, column vip: 'maybe' is not true/false", bad.Error, StringComparison.Ordinal);
        Assert.Contains("line 3, column number: customer number '55x4001' is not a phone number", bad.Error, StringComparison.Ordinal);
        Assert.Contains("line 3, column language: language 'english' is not a language code", bad.Error, StringComparison.Ordinal);
        Assert.Contains("line 4, column number: 5554000 is already on line 2", bad.Error, StringComparison.Ordinal);
        Assert.Contains("nothing was imported", bad.Error, StringComparison.Ordinal);
        Assert.Equal(0L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM customers", Ct));

        // A good file: the blacklisted number and a member, in one go; export gives them back.
        var good = await CliAsync("customers", "import", Write("good.csv",
            "number,customer_id,blocked,member,language\n5554666,,true,,\n+8613800004777,C-4777,no,1,zh\n"));
        Assert.Equal((0, "customers import: 2 customer(s) written\n"), (good.ExitCode, good.Output.Replace("\r", string.Empty, StringComparison.Ordinal)));
        var export = await CliAsync("customers", "export");
        Assert.Equal("number,customer_id,vip,member,blocked,assigned_agent,language\r\n+8613800004777,C-4777,false,true,false,,zh\r\n5554666,,false,false,true,,\r\n", export.Output);

        var queue = new CallQueueSettings { Name = "support", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default" };
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001")], Ct,
            cc => cc.CustomerLookup = new CustomerLookupSettings { Source = "database", Timeout = TimeSpan.FromSeconds(2) }, Sounds);
        using var supervisor = await ClientAsync(rig, ApiRole.Supervisor);
        using var reporting = await ClientAsync(rig, ApiRole.Reporting);

        // HTTP: a VIP with its own agent; bad fields are 400s naming each; a reporting key may not.
        var invalid = await supervisor.PutAsJsonAsync("/api/customers/5554abc", new { assignedAgent = "9999", language = "english" }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var errors = (await invalid.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("errors");
        Assert.Equal(["assignedAgent", "language", "number"], errors.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("agent '9999' is not configured in callControl.agents", errors.GetProperty("assignedAgent")[0].GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await reporting.GetAsync("/api/customers", Ct)).StatusCode);
        var created = await supervisor.PutAsJsonAsync("/api/customers/5554777", new { customerId = "C-777", vip = true, assignedAgent = "2001", language = "en" }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var replaced = await supervisor.PutAsJsonAsync("/api/customers/5554777", new { customerId = "C-4777b", vip = true, assignedAgent = "2001", language = "en" }, Ct);
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        var one = await supervisor.GetFromJsonAsync<JsonElement>("/api/customers/5554777", Ct);
        Assert.Equal(("C-4777b", true, "2001"), (one.GetProperty("customerId").GetString(), one.GetProperty("vip").GetBoolean(), one.GetProperty("assignedAgent").GetString()));
        var blacklist = await supervisor.GetFromJsonAsync<JsonElement>("/api/customers?blocked=true", Ct);
        Assert.Equal(["5554666"], blacklist.EnumerateArray().Select(c => c.GetProperty("number").GetString()));
        var page = await supervisor.GetFromJsonAsync<JsonElement>("/api/customers?after=5554666&limit=10", Ct);
        Assert.Equal(["5554777"], page.EnumerateArray().Select(c => c.GetProperty("number").GetString()));
        Assert.Equal(HttpStatusCode.BadRequest, (await supervisor.GetAsync("/api/customers?limit=0", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await supervisor.DeleteAsync("/api/customers/+8613800004777", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await supervisor.DeleteAsync("/api/customers/+8613800004777", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await supervisor.GetAsync("/api/customers/5550000", Ct)).StatusCode);

        // The next calls: the imported blacklisted number is released; the VIP queues with its CRM ID and own agent.
        var blocked = rig.Trunk.CallIn("4008001", "5554666", "Nuisance");
        await rig.PbxEvents.WaitAsync("Hangup", blocked, Ct);
        var vip = rig.Trunk.CallIn("4008001", "5554777", "Big Boss");
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the VIP to queue", Ct);
        Assert.Equal(("5554777", true, "C-4777b", "2001", "en"), (enqueued.Caller.CallerNumber, enqueued.Caller.IsVip, enqueued.Caller.CustomerId, enqueued.Caller.AssignedAgentId, enqueued.Caller.Language));
        rig.Trunk.HangUp(vip);
        await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the VIP's call to end", Ct);
        await rig.StopServiceAsync();
        Assert.Equal("blocked", await database.Database.ScalarAsync<string>("SELECT disposition FROM calls WHERE caller = '5554666'", Ct));
        Assert.Equal("PUT 400,PUT 201,PUT 200,DELETE 204,DELETE 404", await database.Database.ScalarAsync<string>(
            "SELECT string_agg(split_part(action, ' ', 1) || ' ' || outcome, ',' ORDER BY id) FROM audit_log WHERE action LIKE '% /api/customers%'", Ct));
    }
}
