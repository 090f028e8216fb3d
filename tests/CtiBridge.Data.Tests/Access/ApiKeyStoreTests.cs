using System.Text.Json;
using CtiBridge.Data.Access;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Data.Tests.Access;

public sealed class ApiKeyStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 29, 9, 0, 0, TimeSpan.Zero));

    private ApiKeyStore Store => new(fixture.Database.DataSource, _clock);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task Authenticate_TokenFromCreate_ReturnsTheKeyAndRole()
    {
        var created = await Store.CreateAsync(UniqueName("crm"), ApiRole.Integration, null, "test", Ct);

        var key = await Store.AuthenticateAsync(created.Token, Ct);

        Assert.NotNull(key);
        Assert.Equal(created.Key.Id, key.Id);
        Assert.Equal(ApiRole.Integration, key.Role);
        Assert.StartsWith("ctb_", created.Token, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_StoresOnlyTheSecretsHash()
    {
        var created = await Store.CreateAsync(UniqueName("hash"), ApiRole.Reporting, null, "test", Ct);
        var secret = created.Token[(ApiKeyStore.TokenPrefix.Length + 33)..];

        var stored = await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM api_keys WHERE position(convert_to('{secret}', 'UTF8') in secret_hash) > 0 OR name LIKE '%{secret}%'", Ct);
        var hashLength = await fixture.Database.ScalarAsync<int>($"SELECT length(secret_hash) FROM api_keys WHERE id = '{created.Key.Id}'", Ct);

        Assert.Equal(0, stored);
        Assert.Equal(32, hashLength);
    }

    [Fact]
    public async Task Authenticate_WrongSecretSameId_IsRefused()
    {
        var created = await Store.CreateAsync(UniqueName("wrong"), ApiRole.Admin, null, "test", Ct);
        var forged = created.Token[..^4] + (created.Token.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA");

        Assert.Null(await Store.AuthenticateAsync(forged, Ct));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Bearer x")]
    [InlineData("ctb_nothex_secret")]
    [InlineData("ctb_0123456789abcdef0123456789abcdef_tooshort")]
    public async Task Authenticate_MalformedToken_IsRefusedWithoutAQueryError(string token)
    {
        Assert.Null(await Store.AuthenticateAsync(token, Ct));
    }

    [Fact]
    public async Task Revoke_ByName_StopsTheKeyWorking()
    {
        var name = UniqueName("revoke");
        var created = await Store.CreateAsync(name, ApiRole.Supervisor, null, "test", Ct);

        Assert.True(await Store.RevokeAsync(name, Ct));

        Assert.Null(await Store.AuthenticateAsync(created.Token, Ct));
        Assert.False(await Store.RevokeAsync(name, Ct));
        Assert.Contains(await Store.ListAsync(includeRevoked: true, Ct), k => k.Id == created.Key.Id && !k.IsActive);
        Assert.DoesNotContain(await Store.ListAsync(includeRevoked: false, Ct), k => k.Id == created.Key.Id);
    }

    [Fact]
    public async Task Revoke_ById_StopsTheKeyWorking()
    {
        var created = await Store.CreateAsync(UniqueName("byid"), ApiRole.Reporting, null, "test", Ct);

        Assert.True(await Store.RevokeAsync(created.Key.Id.ToString("N"), Ct));

        Assert.Null(await Store.AuthenticateAsync(created.Token, Ct));
    }

    [Fact]
    public async Task Create_AgentRoleWithoutAgent_IsRefusedWithTheReason()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Store.CreateAsync(UniqueName("agent"), ApiRole.Agent, null, "test", Ct));

        Assert.Contains("must name its agent", error.Message, StringComparison.Ordinal);
        var other = await Assert.ThrowsAsync<ArgumentException>(() => Store.CreateAsync(UniqueName("sup"), ApiRole.Supervisor, "1001", "test", Ct));
        Assert.Contains("must not", other.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_DuplicateActiveName_IsRefused()
    {
        var name = UniqueName("dup");
        await Store.CreateAsync(name, ApiRole.Reporting, null, "test", Ct);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Store.CreateAsync(name, ApiRole.Reporting, null, "test", Ct));

        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditLog_WrittenEntries_ListNewestFirstForTheActor()
    {
        var audit = new AuditLog(fixture.Database.DataSource);
        var actor = UniqueName("actor");
        var t0 = new DateTimeOffset(2026, 11, 29, 10, 0, 0, TimeSpan.Zero);
        using var detail = JsonDocument.Parse("""{"reason":"break"}""");
        await audit.WriteAsync(new AuditEntry(t0, actor, "supervisor", "POST /api/agents/1001/pause", "1001", 200, "127.0.0.1", detail.RootElement), Ct);
        await audit.WriteAsync(new AuditEntry(t0.AddMinutes(1), actor, "supervisor", "POST /api/agents/1001/resume", "1001", 200, "127.0.0.1"), Ct);

        var entries = await audit.ListAsync(t0, t0.AddHours(1), actor, 10, Ct);

        Assert.Equal(["POST /api/agents/1001/resume", "POST /api/agents/1001/pause"], entries.Select(e => e.Action));
        Assert.Equal("break", entries[1].Detail!.Value.GetProperty("reason").GetString());
    }
}
