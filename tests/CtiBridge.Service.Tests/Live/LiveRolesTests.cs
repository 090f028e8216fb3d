using System.Net;
using CtiBridge.Data.Access;
using CtiBridge.Service.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.Live;

/// <summary>
/// Who may call the live, supervisor, report and click-to-dial endpoints: 401 without a key, 403 for
/// a role that may not (as problem details), anything else for a role that may (the service here has
/// no call control, so allowed calls needing it answer 503). Refused changes are audited too.
/// </summary>
public sealed class LiveRolesTests(RunningService service) : IClassFixture<RunningService>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, ApiRole?, bool> Cases()
    {
        var data = new TheoryData<string, string, ApiRole?, bool>();
        void Add(string method, string path, params ApiRole[] allowed)
        {
            data.Add(method, path, null, false);
            foreach (var role in Enum.GetValues<ApiRole>())
            {
                data.Add(method, path, role, allowed.Contains(role));
            }
        }

        Add("GET", "/api/events", ApiRole.Admin, ApiRole.Supervisor, ApiRole.Agent, ApiRole.Integration);
        Add("GET", "/api/wallboard", ApiRole.Admin, ApiRole.Supervisor, ApiRole.Reporting);
        Add("GET", "/api/wallboard/stream", ApiRole.Admin, ApiRole.Supervisor, ApiRole.Reporting);
        Add("GET", "/api/calls", ApiRole.Admin, ApiRole.Supervisor, ApiRole.Reporting, ApiRole.Integration);
        Add("POST", "/api/supervisor/agents/2001/pause", ApiRole.Admin, ApiRole.Supervisor);
        Add("POST", "/api/supervisor/agents/2001/logout", ApiRole.Admin, ApiRole.Supervisor);
        Add("GET", "/api/reports", ApiRole.Admin, ApiRole.Supervisor, ApiRole.Reporting);
        Add("GET", "/api/reports/queue-traffic?from=2026-01-01&to=2026-01-02", ApiRole.Admin, ApiRole.Supervisor, ApiRole.Reporting);
        // The agent key in these cases acts for agent 2001: its own agent.
        Add("POST", "/api/agents/2001/dial", ApiRole.Admin, ApiRole.Supervisor, ApiRole.Agent, ApiRole.Integration);
        Add("POST", "/api/agents/2002/dial", ApiRole.Admin, ApiRole.Supervisor, ApiRole.Integration);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Endpoint_AllowsOnlyItsRoles(string method, string path, ApiRole? role, bool allowed)
    {
        string? token = null;
        if (role is { } r)
        {
            var store = service.App.Services.GetRequiredService<ApiKeyStore>();
            token = (await store.CreateAsync($"{r}-{Guid.NewGuid():N}"[..24], r, r == ApiRole.Agent ? "2001" : null, "test", Ct)).Token;
        }

        using var http = service.Client(token);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = new StringContent(path.EndsWith("/dial", StringComparison.Ordinal) ? "{\"number\":\"5550100\"}" : "{\"reason\":\"meeting\"}", System.Text.Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);

        if (role is null)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        else if (!allowed)
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        else
        {
            Assert.NotEqual(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.NotEqual(HttpStatusCode.Forbidden, response.StatusCode);
        }
    }

    [Fact]
    public async Task RefusedSupervisorAction_IsAuditedWithTheCallersRole()
    {
        var store = service.App.Services.GetRequiredService<ApiKeyStore>();
        var name = $"agent-{Guid.NewGuid():N}"[..24];
        var token = (await store.CreateAsync(name, ApiRole.Agent, "2001", "test", Ct)).Token;
        using var http = service.Client(token);

        var response = await http.PostAsync("/api/supervisor/agents/2001/logout", null, Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var audited = await service.Database.ScalarAsync<string>(
            $"SELECT action || ' ' || outcome || ' ' || role FROM audit_log WHERE actor = '{name}'", Ct);
        Assert.Equal("POST /api/supervisor/agents/2001/logout 403 agent", audited);
    }

    [Fact]
    public async Task WallboardPage_IsServedWithoutAKey_AndHoldsNoData()
    {
        using var http = service.Client();

        var page = await http.GetStringAsync("/wallboard/", Ct);
        var script = await http.GetAsync("/wallboard/wallboard.js", Ct);
        var missing = await http.GetAsync("/wallboard/secrets.txt", Ct);

        Assert.Contains("<table id=\"queues\">", page, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", page.Replace("http://www.w3.org", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }
}
