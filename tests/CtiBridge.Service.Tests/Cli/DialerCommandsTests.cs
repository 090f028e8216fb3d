using CtiBridge.Data.Dialer;
using CtiBridge.Service.Cli;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Cli;

public sealed class DialerCommandsTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ctibridge-dialer-cli-");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Delete(recursive: true);

    private Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => CommandLineRun.AgainstAsync(fixture.Database.ConnectionString, args);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    private async Task<string> PutCampaignAsync()
    {
        var id = "cli" + Guid.NewGuid().ToString("N")[..8];
        var file = Write(id + ".json", $$"""
            { "id": "{{id}}", "agentGroup": "sales", "mode": "Progressive", "callerId": "+18005550100",
              "trunkPrefix": "PJSIP/carrier/", "defaultTimeZone": "America/New_York" }
            """);
        var put = await RunAsync("campaign", "put", file);
        Assert.Equal(0, put.ExitCode);
        Assert.Contains($"campaign '{id}' stored", put.Output, StringComparison.Ordinal);
        return id;
    }

    [Fact]
    public async Task ImportLeads_BrokenRows_ExitOneListErrorsAndWriteTheRejectFile()
    {
        var id = await PutCampaignAsync();
        var csv = Write("leads.csv", "phone,name\n2125550100,Jane\n12345,Bob\n2125550101,Ann\n");

        var strict = await RunAsync("import", "leads", "--campaign", id, csv);
        var lenient = await RunAsync("import", "leads", "--campaign", id, csv, "--skip-bad");

        Assert.Equal(1, strict.ExitCode);
        Assert.Contains("leads.csv:3: column 'phone': '12345' is not a valid phone number", strict.Error, StringComparison.Ordinal);
        Assert.Contains("nothing was imported", strict.Error, StringComparison.Ordinal);
        Assert.Equal(0, lenient.ExitCode);
        Assert.Contains("3 rows read, 2 leads imported, 1 invalid", lenient.Output, StringComparison.Ordinal);
        var rejects = await File.ReadAllTextAsync(Path.Combine(_dir.FullName, "leads.rejects.csv"), Ct);
        Assert.Contains("3,phone,invalid,", rejects, StringComparison.Ordinal);
        Assert.Contains("\"12345,Bob\"", rejects, StringComparison.Ordinal);
        Assert.Equal(2, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}'", Ct));
    }

    [Fact]
    public async Task CampaignPut_BadFile_ListsEveryProblem_AndStartNamesUnknownCampaigns()
    {
        var file = Write("bad.json", """{ "id": "x", "agentGroup": "", "callerId": "1", "trunkPrefix": "" }""");

        var put = await RunAsync("campaign", "put", file);
        var start = await RunAsync("campaign", "start", "no-such-campaign");

        Assert.Equal(2, put.ExitCode);
        Assert.Contains("AgentGroup is empty", put.Error, StringComparison.Ordinal);
        Assert.Contains("TrunkPrefix is empty", put.Error, StringComparison.Ordinal);
        Assert.Equal(1, start.ExitCode);
        Assert.Contains("no campaign 'no-such-campaign'", start.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dnc_RequestThenSelfApprovalRefused_AnotherSupervisorApproves()
    {
        var id = await PutCampaignAsync();
        var number = "212555" + Random.Shared.Next(1000, 9999);

        var request = await RunAsync("dnc", "request", "add", number, "--campaign", id, "--reason", "asked on the call");
        var requestId = request.Output.Split(':')[0].Replace("request ", string.Empty, StringComparison.Ordinal);
        var self = await RunAsync("dnc", "approve", requestId);

        Assert.Equal(0, request.ExitCode);
        Assert.Equal(1, self.ExitCode);
        Assert.Contains("another supervisor must decide it", self.Error, StringComparison.Ordinal);

        // Filed by someone else, the command-line user may approve it.
        var other = await new DoNotCallList(fixture.Database.DataSource, TimeProvider.System)
            .RequestAsync(DoNotCallAction.Add, id, "+1415555" + Random.Shared.Next(1000, 9999), "asked", "agent9", Ct);
        var approve = await RunAsync("dnc", "approve", other.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--note", "ok");
        var list = await RunAsync("dnc", "list");

        Assert.Equal(0, approve.ExitCode);
        Assert.Contains("approved", approve.Output, StringComparison.Ordinal);
        Assert.Contains(other.PhoneNumber, list.Output, StringComparison.Ordinal);
        Assert.Contains("pending", list.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Leads_AssignToAnotherAgentThenMove_ReportsWhatStayedAndWhy()
    {
        var from = await PutCampaignAsync();
        var to = await PutCampaignAsync();
        Assert.Equal(0, (await RunAsync("import", "leads", "--campaign", from, Write("from.csv", "phone\n2125550400\n2125550401\n"))).ExitCode);
        Assert.Equal(0, (await RunAsync("import", "leads", "--campaign", to, Write("to.csv", "phone\n2125550401\n"))).ExitCode);
        var lead = await fixture.Database.ScalarAsync<long>($"SELECT lead_id FROM dialer_leads WHERE campaign_id = '{from}' AND phone_number = '+12125550400'", Ct);
        var duplicate = await fixture.Database.ScalarAsync<long>($"SELECT lead_id FROM dialer_leads WHERE campaign_id = '{from}' AND phone_number = '+12125550401'", Ct);

        var nothing = await RunAsync("leads", "move", "--from", from, "--to", to);
        var both = await RunAsync("leads", "assign", "--campaign", from, "--status", "open", "--to-agent", "2001", "--unassign");
        var assign = await RunAsync("leads", "assign", "--campaign", from, "--status", "open", "--to-agent", "2001");
        var move = await RunAsync("leads", "move", "--from", from, "--to", to, "--owner", "2001", "--keep-owner");

        Assert.Equal(2, nothing.ExitCode);
        Assert.Contains("say which leads", nothing.Error, StringComparison.Ordinal);
        Assert.Equal(2, both.ExitCode);
        Assert.Equal(0, assign.ExitCode);
        Assert.Contains("2 leads given to agent 2001", assign.Output, StringComparison.Ordinal);
        Assert.Equal(1, move.ExitCode);
        Assert.Contains($"1 leads moved from '{from}' to '{to}'", move.Output, StringComparison.Ordinal);
        Assert.Contains($"lead {duplicate} not changed: the target campaign already has its number", move.Error, StringComparison.Ordinal);
        Assert.Equal(1, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE lead_id = {lead} AND campaign_id = '{to}' AND assigned_agent = '2001'", Ct));
    }
}
