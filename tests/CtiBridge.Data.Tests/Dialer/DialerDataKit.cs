using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Dialer;

/// <summary>Campaign files and stores for the dialer's database tests.</summary>
internal static class DialerDataKit
{
    public static CampaignDefinition Definition(string id) => CampaignDefinition.Parse($$"""
        {
          "id": "{{id}}", "agentGroup": "sales", "mode": "Progressive",
          "callerId": "+18005550100", "trunkPrefix": "PJSIP/carrier/",
          "timeZones": { "+1212": "America/New_York", "+1415": "America/Los_Angeles" },
          "defaultCountryCode": "1"
        }
        """);

    public static async Task<CampaignDefinition> CreateCampaignAsync(TestDatabase database, TimeProvider clock, string id, CancellationToken ct)
    {
        var definition = Definition(id);
        await new CampaignStore(database.DataSource, clock).PutAsync(definition, "test", ct);
        return definition;
    }

    public static async Task<LeadImportReport> ImportAsync(TestDatabase database, TimeProvider clock, string campaignId, string csv, CancellationToken ct, bool skipBad = false, TextWriter? rejects = null)
    {
        var importer = new LeadImporter(database.DataSource, new CampaignStore(database.DataSource, clock), clock);
        return await importer.ImportAsync(campaignId, new StringReader(csv),
            new LeadImportOptions { FileName = "leads.csv", ImportedBy = "test", SkipBadRows = skipBad, RejectWriter = rejects }, ct);
    }
}
