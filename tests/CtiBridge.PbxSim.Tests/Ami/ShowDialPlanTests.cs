using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Ami;

/// <summary>
/// ShowDialPlan (not in the recordings; shaped after Asterisk 22's pbx.c manager_show_dialplan):
/// list ack, one ListDialplan per priority, the completion counters, the filters and their errors.
/// </summary>
public sealed class ShowDialPlanTests
{
    private static PbxSimOptions Options() => new()
    {
        AmiPort = 0,
        AriPort = 0,
        Dialplan = new()
        {
            ["from-carrier"] = new() { ["_X."] = ["NoOp(in)", "Stasis(ctibridge,inbound,${EXTEN})"], ["100"] = ["Hangup()"] },
            ["agents-phones"] = new() { ["_*9X"] = ["Stasis(ctibridge,feature,${EXTEN})"] },
        },
    };

    private static async Task<List<string>> ShowAsync(string fields, string user = "ctibridge", string secret = "ctibridge-secret")
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sim = new PbxSimulator(Options());
        await sim.StartAsync(ct);
        await using var ami = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, ct);
        await ami.ReadBannerAsync(ct);
        await ami.SendAsync($"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: off\r\n\r\n", ct);
        Assert.Contains("Authentication accepted", await ami.ReadMessageAsync(ct));
        await ami.SendAsync($"Action: ShowDialPlan\r\nActionID: d1\r\n{fields}\r\n", ct);
        var messages = new List<string>();
        while (true)
        {
            var message = (await ami.ReadMessageAsync(ct))!;
            messages.Add(message);
            if (message.StartsWith("Response: Error", StringComparison.Ordinal) || message.Contains("Event: ShowDialPlanComplete", StringComparison.Ordinal))
            {
                return messages;
            }
        }
    }

    [Fact]
    public async Task Everything_ListsEachPriorityThenTheCounters()
    {
        var messages = await ShowAsync("");

        Assert.Equal("Response: Success\r\nActionID: d1\r\nEventList: start\r\nMessage: DialPlan list will follow\r\n\r\n", messages[0]);
        Assert.Equal(
            "Event: ListDialplan\r\nActionID: d1\r\nContext: from-carrier\r\nExtension: _X.\r\nPriority: 2\r\nApplication: Stasis\r\nAppData: ctibridge,inbound,${EXTEN}\r\nRegistrar: pbx_config\r\n\r\n",
            messages[2]);
        Assert.Equal(4, messages.Count(m => m.StartsWith("Event: ListDialplan", StringComparison.Ordinal)));
        Assert.Equal(
            "Event: ShowDialPlanComplete\r\nActionID: d1\r\nEventList: Complete\r\nListItems: 4\r\nListExtensions: 3\r\nListPriorities: 4\r\nListContexts: 2\r\n\r\n",
            messages[^1]);
    }

    [Fact]
    public async Task ExtensionFilter_ADidFindsThePatternsItWouldRun()
    {
        var messages = await ShowAsync("Extension: 4008001\r\n");

        var items = messages.Where(m => m.StartsWith("Event: ListDialplan", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, items.Count);
        Assert.All(items, m => Assert.Contains("Extension: _X.\r\n", m, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Context: nowhere\r\n", "Did not find context nowhere")]
    [InlineData("Context: agents-phones\r\nExtension: 4008001\r\n", "Did not find extension 4008001@agents-phones")]
    [InlineData("Extension: *81\r\n", "Did not find extension *81 in any context")]
    public async Task Filters_NothingFound_AsteriskErrors(string fields, string error)
    {
        var messages = await ShowAsync(fields);

        Assert.Equal($"Response: Error\r\nActionID: d1\r\nMessage: {error}\r\n\r\n", Assert.Single(messages));
    }

    [Fact]
    public async Task UserWithoutConfigOrReportingWrite_PermissionDenied()
    {
        var messages = await ShowAsync("", "reporter", "reporter-secret");

        Assert.Equal("Response: Error\r\nActionID: d1\r\nMessage: Permission denied\r\n\r\n", Assert.Single(messages));
    }
}
