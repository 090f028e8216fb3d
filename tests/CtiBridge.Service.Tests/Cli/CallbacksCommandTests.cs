using CtiBridge.Service.Cli;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Cli;

/// <summary><c>ctibridge callbacks add|list|reschedule|cancel</c> against PostgreSQL.</summary>
public sealed class CallbacksCommandTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => CommandLineRun.AgainstAsync(fixture.Database.ConnectionString, args);

    [Fact]
    public async Task AddListRescheduleCancel_TheRecordAndItsHistoryChange_BadInputExitsTwoNamingIt()
    {
        var day = DateTime.UtcNow.Date.AddDays(30).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var next = DateTime.UtcNow.Date.AddDays(31).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var add = await RunAsync("callbacks", "add", "13911112222", "--queue", "support", "--at", $"{day}T15:00:00+08:00", "--reason", "promised", "--owner", "2001");
        var merged = await RunAsync("callbacks", "add", "13911112222", "--queue", "support", "--at", $"{day}T14:00:00+08:00");
        var badNumber = await RunAsync("callbacks", "add", "call-me", "--queue", "support", "--at", $"{day}T15:00:00Z");
        var badTime = await RunAsync("callbacks", "add", "13911112223", "--queue", "support", "--at", "tomorrow at three");

        Assert.Equal(0, add.ExitCode);
        Assert.Contains($"to 13911112222 (support) due {day} 07:00:00Z", add.Output, StringComparison.Ordinal);
        var id = add.Output.Split(' ')[1];
        Assert.Equal(0, merged.ExitCode);
        Assert.Contains($"callback {id} ", merged.Output, StringComparison.Ordinal);
        Assert.Contains($"due {day} 06:00:00Z (merged into the number's open callback)", merged.Output, StringComparison.Ordinal);
        Assert.Equal(2, badNumber.ExitCode);
        Assert.Contains("Number 'call-me' is not a dialable number", badNumber.Error, StringComparison.Ordinal);
        Assert.Equal(2, badTime.ExitCode);
        Assert.Contains("--at 'tomorrow at three' is not a time", badTime.Error, StringComparison.Ordinal);

        var list = await RunAsync("callbacks", "list", "--state", "open", "--number", "13911112222");
        Assert.Equal(0, list.ExitCode);
        Assert.Contains($"{id} scheduled", list.Output, StringComparison.Ordinal);
        Assert.Contains("owner 2001 'promised'", list.Output, StringComparison.Ordinal);
        Assert.Equal(2, (await RunAsync("callbacks", "list", "--state", "sleeping")).ExitCode);

        var moved = await RunAsync("callbacks", "reschedule", id, "--at", $"{next}T09:30:00Z");
        Assert.Equal(0, moved.ExitCode);
        Assert.Contains($"due {next} 09:30:00Z", moved.Output, StringComparison.Ordinal);
        var cancel = await RunAsync("callbacks", "cancel", id, "--reason", "customer asked");
        var again = await RunAsync("callbacks", "cancel", id);
        Assert.Equal(0, cancel.ExitCode);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("is not open", again.Error, StringComparison.Ordinal);

        var history = await fixture.Database.ScalarAsync<string>(
            $"SELECT string_agg(kind || ':' || to_state || ':' || reason, ' | ' ORDER BY seq) FROM callback_events WHERE callback_id = '{id}'", Ct);
        Assert.EndsWith($"rescheduled:scheduled:rescheduled to {next}T09:30:00.0000000+00:00 | transition:cancelled:customer asked", history, StringComparison.Ordinal);
        Assert.StartsWith("cli:", await fixture.Database.ScalarAsync<string>($"SELECT actor FROM callback_events WHERE callback_id = '{id}' ORDER BY seq DESC LIMIT 1", Ct), StringComparison.Ordinal);
    }
}
