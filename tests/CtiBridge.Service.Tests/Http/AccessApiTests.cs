using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CtiBridge.Data.Access;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.Http;

/// <summary>The API's access rules over real HTTP, with keys and audit rows in the real PostgreSQL.</summary>
public sealed class AccessApiTests(RunningService service) : IClassFixture<RunningService>
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<string> KeyAsync(ApiRole role, string? agent = null)
    {
        var store = service.App.Services.GetRequiredService<ApiKeyStore>();
        var created = await store.CreateAsync($"{role}-{Guid.NewGuid():N}"[..24], role, agent, "test", Ct);
        return created.Token;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
    }

    [Fact]
    public async Task NoKey_Refused401WithProblemDetails()
    {
        using var http = service.Client();

        var response = await http.GetAsync("/api/whoami", Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(401, (await ProblemAsync(response)).GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task ForgedKey_Refused401()
    {
        using var http = service.Client("ctb_0123456789abcdef0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");

        var response = await http.GetAsync("/api/whoami", Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task AgentKey_WhoAmI_NamesItsAgent()
    {
        using var http = service.Client(await KeyAsync(ApiRole.Agent, "1001"));

        var me = await http.GetFromJsonAsync<JsonElement>("/api/whoami", Ct);

        Assert.Equal("agent", me.GetProperty("role").GetString());
        Assert.Equal("1001", me.GetProperty("agentId").GetString());
    }

    [Theory]
    [InlineData(ApiRole.Admin, HttpStatusCode.OK)]
    [InlineData(ApiRole.Supervisor, HttpStatusCode.Forbidden)]
    [InlineData(ApiRole.Agent, HttpStatusCode.Forbidden)]
    [InlineData(ApiRole.Reporting, HttpStatusCode.Forbidden)]
    [InlineData(ApiRole.Integration, HttpStatusCode.Forbidden)]
    public async Task ListApiKeys_OnlyAdmin(ApiRole role, HttpStatusCode expected)
    {
        using var http = service.Client(await KeyAsync(role, role == ApiRole.Agent ? "1001" : null));

        var response = await http.GetAsync("/api/apikeys", Ct);

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.Forbidden)
        {
            Assert.Equal(403, (await ProblemAsync(response)).GetProperty("status").GetInt32());
        }
    }

    [Fact]
    public async Task CreateApiKey_AsAdmin_TokenWorksAndIsShownOnlyOnce()
    {
        using var admin = service.Client(await KeyAsync(ApiRole.Admin));
        var name = $"crm-{Guid.NewGuid():N}"[..20];

        var response = await admin.PostAsJsonAsync("/api/apikeys", new { name, role = "integration" }, Ct);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        var token = created.GetProperty("token").GetString()!;
        using var crm = service.Client(token);
        var me = await crm.GetFromJsonAsync<JsonElement>("/api/whoami", Ct);
        var listed = await admin.GetStringAsync("/api/apikeys", Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(name, me.GetProperty("name").GetString());
        Assert.Contains(name, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(token[^43..], listed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateApiKey_UnknownRole_ValidationProblemNamesTheField()
    {
        using var admin = service.Client(await KeyAsync(ApiRole.Admin));

        var response = await admin.PostAsJsonAsync("/api/apikeys", new { name = "x", role = "superuser" }, Ct);
        var problem = await ProblemAsync(response);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("'superuser' is not a role", problem.GetProperty("errors").GetProperty("role")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateApiKey_AgentRoleWithoutAgent_ValidationProblem()
    {
        using var admin = service.Client(await KeyAsync(ApiRole.Admin));

        var response = await admin.PostAsJsonAsync("/api/apikeys", new { name = $"a-{Guid.NewGuid():N}"[..12], role = "agent" }, Ct);
        var problem = await ProblemAsync(response);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("must name its agent", problem.GetProperty("errors").GetProperty("agentId")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateApiKey_MalformedJson_ProblemDetails400()
    {
        using var admin = service.Client(await KeyAsync(ApiRole.Admin));

        var response = await admin.PostAsync("/api/apikeys", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await ProblemAsync(response);
    }

    [Fact]
    public async Task RevokeApiKey_Unknown_NotFoundProblem()
    {
        using var admin = service.Client(await KeyAsync(ApiRole.Admin));

        var response = await admin.DeleteAsync("/api/apikeys/no-such-key", Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("no-such-key", (await ProblemAsync(response)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StateChangingRequests_AreAudited_IncludingRefusedOnes()
    {
        var reportingToken = await KeyAsync(ApiRole.Reporting);
        using var reporting = service.Client(reportingToken);
        using var admin = service.Client(await KeyAsync(ApiRole.Admin));
        var name = $"audited-{Guid.NewGuid():N}"[..20];

        var refused = await reporting.PostAsJsonAsync("/api/apikeys", new { name, role = "admin" }, Ct);
        var allowed = await admin.PostAsJsonAsync("/api/apikeys", new { name, role = "reporting" }, Ct);
        var revoked = await admin.DeleteAsync($"/api/apikeys/{name}", Ct);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(HttpStatusCode.Created, allowed.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        var rows = await service.Database.ScalarAsync<string>(
            $"SELECT string_agg(role || ' ' || action || ' ' || outcome || ' ' || coalesce(target, '-') || ' ' || remote_address, ' | ' ORDER BY id) FROM audit_log WHERE action LIKE '%/api/apikeys%' AND (target = '{name}' OR action = 'POST /api/apikeys') AND at > now() - interval '1 minute'", Ct);
        Assert.Contains("reporting POST /api/apikeys 403 - 127.0.0.1", rows, StringComparison.Ordinal);
        Assert.Contains("admin POST /api/apikeys 201 - 127.0.0.1", rows, StringComparison.Ordinal);
        Assert.Contains($"admin DELETE /api/apikeys/{name} 204 {name} 127.0.0.1", rows, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Audit_ListedForAdminOnly()
    {
        using var admin = service.Client(await KeyAsync(ApiRole.Admin));
        using var supervisor = service.Client(await KeyAsync(ApiRole.Supervisor));

        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/audit", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await supervisor.GetAsync("/api/audit", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync("/api/audit?limit=0", Ct)).StatusCode);
    }

    [Fact]
    public async Task RequestBody_OverTheLimit_Refused413()
    {
        using var admin = service.Client(await KeyAsync(ApiRole.Admin));
        var body = new string('x', (int)CtiBridge.Service.Http.HttpExtensions.MaxRequestBodyBytes + 10);

        var response = await admin.PostAsync("/api/apikeys", new StringContent($"{{\"name\":\"{body}\"}}", System.Text.Encoding.UTF8, "application/json"), Ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task OpenApiDocument_IsServedAndMatchesTheCheckedInCopy()
    {
        using var http = service.Client();
        var served = await http.GetStringAsync("/openapi/v1.json", Ct);
        var checkedIn = Path.Combine(RepositoryPaths.Root, "docs", "openapi.json");
        var normalised = JsonSerializer.Serialize(JsonDocument.Parse(served).RootElement, Indented) + "\n";
        if (Environment.GetEnvironmentVariable("CTIBRIDGE_UPDATE_OPENAPI") == "1")
        {
            await File.WriteAllTextAsync(checkedIn, normalised, Ct);
        }

        Assert.Contains("/api/apikeys", served, StringComparison.Ordinal);
        Assert.True(File.Exists(checkedIn), "docs/openapi.json is missing: run CTIBRIDGE_UPDATE_OPENAPI=1 scripts/test.sh tests/CtiBridge.Service.Tests");
        Assert.True(normalised == await File.ReadAllTextAsync(checkedIn, Ct),
            "The API changed but docs/openapi.json did not: review the change, then run CTIBRIDGE_UPDATE_OPENAPI=1 scripts/test.sh tests/CtiBridge.Service.Tests and commit docs/openapi.json.");
    }
}
