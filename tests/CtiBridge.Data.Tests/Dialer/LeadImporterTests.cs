using CtiBridge.Data.Dialer;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Data.Tests.Dialer;

public sealed class LeadImporterTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 14, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string NewId() => "c" + Guid.NewGuid().ToString("N")[..10];

    private Task<long> CountAsync(string sql) => fixture.Database.ScalarAsync<long>(sql, Ct);

    [Fact]
    public async Task Import_GoodFile_NormalisesNumbersKeepsCustomFieldsAndTimeZones()
    {
        var id = NewId();
        await DialerDataKit.CreateCampaignAsync(fixture.Database, _clock, id, Ct);
        const string csv = "name,phone,time_zone,product\n"
                           + "Jane,(212) 555-0100,,\"gold, annual\"\n"
                           + "Bob,+1 415 555 0101,America/Chicago,silver\n"
                           + "\n"
                           + "Ann,1-212-555-0102,,\"multi\nline\"\n";

        var report = await DialerDataKit.ImportAsync(fixture.Database, _clock, id, csv, Ct);

        Assert.True(report.Committed);
        Assert.Equal(3, report.RowsRead);
        Assert.Equal(3, report.Imported);
        Assert.Empty(report.Rejects);
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}' AND phone_number = '+12125550100' AND custom_fields->>'product' = 'gold, annual' AND custom_fields->>'name' = 'Jane' AND time_zone IS NULL AND source_line = 2"));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}' AND phone_number = '+14155550101' AND time_zone = 'America/Chicago'"));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}' AND phone_number = '+12125550102' AND custom_fields->>'product' = E'multi\\nline' AND source_line = 5"));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM audit_log WHERE action = 'leads import' AND target = '{id}'"));
    }

    [Fact]
    public async Task Import_BrokenRows_AllOrNothing_ImportsNothingAndNamesFileLineAndColumn()
    {
        var id = NewId();
        await DialerDataKit.CreateCampaignAsync(fixture.Database, _clock, id, Ct);
        const string csv = "phone,tz,note\n"
                           + "2125550100,,ok\n"
                           + "21255501xx,,letters\n"            // line 3
                           + "2125550101,Mars/Olympus,bad zone\n" // line 4
                           + "2125550102,too,many,fields\n"       // line 5
                           + "+4420794609,,no zone for UK\n"      // line 6
                           + "2125550103,\"unclosed,x\n";         // line 7 (to the end)
        var rejectFile = new StringWriter();

        var report = await DialerDataKit.ImportAsync(fixture.Database, _clock, id, csv, Ct, rejects: rejectFile);

        Assert.False(report.Committed);
        Assert.Equal(0, report.Imported);
        Assert.Equal(0, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}'"));
        var messages = report.Rejects.Select(r => r.Describe("leads.csv")).ToList();
        Assert.Equal(5, report.Invalid);
        Assert.Contains(messages, m => m.StartsWith("leads.csv:3: column 'phone': '21255501xx' contains 'x'", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("leads.csv:4: column 'tz': 'Mars/Olympus' is not a known time zone", StringComparison.Ordinal));
        Assert.Contains(messages, m => m == "leads.csv:5: the row has 4 fields, the header has 3");
        Assert.Contains(messages, m => m.StartsWith("leads.csv:6: column 'phone': the time zone of +4420794609 cannot be told", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("leads.csv:7: a quoted field is never closed", StringComparison.Ordinal));

        // Kept aside, not lost: the reject file and the database both hold every bad row as it was.
        var rejectCsv = rejectFile.ToString();
        Assert.StartsWith("line,column,kind,reason,raw\r\n", rejectCsv, StringComparison.Ordinal);
        Assert.Contains("2125550102,too,many,fields", rejectCsv, StringComparison.Ordinal);
        Assert.Equal(5, await CountAsync($"SELECT count(*) FROM dialer_import_rejects WHERE import_id = {report.ImportId} AND kind = 'invalid'"));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_lead_imports WHERE import_id = {report.ImportId} AND NOT committed AND rows_invalid = 5 AND rows_read = 6"));
    }

    [Fact]
    public async Task Import_SkipBad_ImportsTheGoodRowsOnly()
    {
        var id = NewId();
        await DialerDataKit.CreateCampaignAsync(fixture.Database, _clock, id, Ct);

        var report = await DialerDataKit.ImportAsync(fixture.Database, _clock, id, "phone\n2125550100\nnonsense\n4155550100\n", Ct, skipBad: true);

        Assert.True(report.Committed);
        Assert.Equal(2, report.Imported);
        Assert.Equal(3, Assert.Single(report.Rejects).Line);
        Assert.Equal(2, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}'"));
    }

    [Fact]
    public async Task Import_DuplicatesAndDoNotCall_AreReportedAndNotImported()
    {
        var id = NewId();
        await DialerDataKit.CreateCampaignAsync(fixture.Database, _clock, id, Ct);
        await DialerDataKit.ImportAsync(fixture.Database, _clock, id, "phone\n2125550100\n", Ct);
        var dnc = new DoNotCallList(fixture.Database.DataSource, _clock);
        var request = await dnc.RequestAsync(DoNotCallAction.Add, DoNotCallList.GlobalScope, "+12125550199", "asked on call", "agent7", Ct);
        await dnc.DecideAsync(request.Id, approve: true, "supervisor1", null, Ct);

        var report = await DialerDataKit.ImportAsync(fixture.Database, _clock, id, "phone\n212-555-0100\n2125550101\n(212) 555-0101\n2125550199\n", Ct);

        Assert.True(report.Committed); // duplicates and DNC numbers never fail an import
        Assert.Equal(1, report.Imported);
        Assert.Equal(2, report.Duplicates);
        Assert.Equal(1, report.DoNotCallHits);
        Assert.Contains(report.Rejects, r => r.Line == 2 && r.Reason.Contains($"already a lead of campaign {id}", StringComparison.Ordinal));
        Assert.Contains(report.Rejects, r => r.Line == 4 && r.Reason == "+12125550101 is already on line 3 of this file");
        Assert.Contains(report.Rejects, r => r.Line == 5 && r.Kind == LeadRejectKind.DoNotCall && r.Reason.Contains("global", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Import_NoPhoneColumnOrUnknownCampaign_FailsWithTheFileNamed()
    {
        var id = NewId();
        await DialerDataKit.CreateCampaignAsync(fixture.Database, _clock, id, Ct);

        var noPhone = await Assert.ThrowsAsync<LeadImportException>(() => DialerDataKit.ImportAsync(fixture.Database, _clock, id, "name,mobile\nx,2125550100\n", Ct));
        var unknown = await Assert.ThrowsAsync<LeadImportException>(() => DialerDataKit.ImportAsync(fixture.Database, _clock, "nope" + id, "phone\n2125550100\n", Ct));

        Assert.StartsWith("leads.csv:1: no phone column", noPhone.Message, StringComparison.Ordinal);
        Assert.Contains("campaign 'nope", unknown.Message, StringComparison.Ordinal);
    }
}
