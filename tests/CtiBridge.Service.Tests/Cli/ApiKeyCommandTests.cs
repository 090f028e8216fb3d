using CtiBridge.Data.Access;
using CtiBridge.Service.Cli;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Cli;

public sealed class ApiKeyCommandTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => CommandLineRun.AgainstAsync(fixture.Database.ConnectionString, args);

    [Fact]
    public async Task Create_PrintsAWorkingTokenOnceAndAuditsIt()
    {
        var name = $"cli-{Guid.NewGuid():N}"[..16];

        var result = await RunAsync("apikey", "create", "--name", name, "--role", "supervisor");

        Assert.Equal(0, result.ExitCode);
        var token = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[1];
        var key = await new ApiKeyStore(fixture.Database.DataSource, new FakeTimeProvider()).AuthenticateAsync(token, TestContext.Current.CancellationToken);
        Assert.Equal(ApiRole.Supervisor, key?.Role);
        Assert.Equal(1, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM audit_log WHERE action = 'apikey create' AND target = '{name}'", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Revoke_ThenList_ShowsItRevokedOnlyWithAll()
    {
        var name = $"rev-{Guid.NewGuid():N}"[..16];
        await RunAsync("apikey", "create", "--name", name, "--role", "reporting");

        var revoke = await RunAsync("apikey", "revoke", name);
        var active = await RunAsync("apikey", "list");
        var all = await RunAsync("apikey", "list", "--all");

        Assert.Equal(0, revoke.ExitCode);
        Assert.DoesNotContain(name, active.Output, StringComparison.Ordinal);
        Assert.Contains(name, all.Output, StringComparison.Ordinal);
        Assert.Contains("revoked", all.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_UnknownRole_ExitsTwoListingTheRoles()
    {
        var result = await RunAsync("apikey", "create", "--name", "x", "--role", "root");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("'root' is not a role; use one of admin, supervisor, agent, reporting, integration", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoke_UnknownKey_ExitsOneNamingIt()
    {
        var result = await RunAsync("apikey", "revoke", "nobody");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("'nobody'", result.Error, StringComparison.Ordinal);
    }
}
