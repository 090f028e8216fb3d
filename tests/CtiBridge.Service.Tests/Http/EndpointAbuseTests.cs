using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CtiBridge.Data.Access;
using CtiBridge.Data.Exports;
using CtiBridge.Service.Http;
using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Tests.Hosting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.Http;

/// <summary>
/// Every endpoint the service maps — found from the running host, so endpoints added later are
/// covered without touching this test — called with every role's key and without one, and then
/// abused (hostile path values, broken and hostile bodies): the right 401/403, never a 5xx with
/// internals, never a hang, and the database left intact.
/// </summary>
public sealed partial class EndpointAbuseTests(CallCenterService service) : IClassFixture<CallCenterService>
{
    private const string OwnAgent = "9001";
    private const string OtherAgent = "9002";
    private static readonly TimeSpan RequestLimit = TimeSpan.FromSeconds(15);

    // Endpoints that answer without a key on purpose (probes, scraping, the API description, the
    // wallboard page's static files: the page asks for a key before it shows any data).
    // Any other endpoint without an authorization policy is a forgotten one and fails the test.
    private static readonly string[] AnonymousByDesign = ["/health/live", "/health/ready", "/metrics", "/openapi/{documentName}.json", "/wallboard/{file?}"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EveryEndpoint_EveryRoleAndNoKey_GetsExactlyTheAccessItsPolicyGrants()
    {
        var probes = await ProbesAsync();
        var queries = await QueryParametersAsync();
        Assert.Contains(probes, p => p.Template.StartsWith("/api/agents/", StringComparison.Ordinal));
        var keys = new Dictionary<ApiRole, string>();
        foreach (var role in Enum.GetValues<ApiRole>())
        {
            keys[role] = await KeyAsync(role, role == ApiRole.Agent ? OwnAgent : null);
        }

        // Keys that must open nothing: an admin key that worked, then was revoked; and a token of the
        // right shape that was never issued.
        var store = service.App.Services.GetRequiredService<ApiKeyStore>();
        var revoked = await store.CreateAsync($"abuse-revoked-{Guid.NewGuid():N}"[..24], ApiRole.Admin, null, "test", Ct);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("GET", "/api/whoami", revoked.Token, "{}")).Status);
        Assert.True(await store.RevokeAsync(revoked.Key.Id.ToString(), Ct));
        var forged = $"{ApiKeyStore.TokenPrefix}{Guid.NewGuid():N}_{Convert.ToBase64String(new byte[32]).TrimEnd('=').Replace('+', '-').Replace('/', '_')}";

        var refusedKeys = new (string Name, string? Key)[] { ("no key", null), ("a revoked admin key", revoked.Token), ("a forged key", forged) };
        var failures = new List<string>();
        failures.AddRange(probes.Where(p => p.AllowedRoles is null && !AnonymousByDesign.Contains(p.Template)).Select(p => $"{p}: no authorization policy (add one, or list it here if it is public by design)"));
        foreach (var probe in probes)
        {
            foreach (var (name, refusedKey) in refusedKeys)
            {
                var refused = await SendAsync(probe.Method, Fill(probe.Template, "zz-none"), refusedKey, "{}");
                if (probe.AllowedRoles is not null && refused.Status != HttpStatusCode.Unauthorized)
                {
                    failures.Add($"{probe}: {name} gave {(int)refused.Status}, expected 401");
                }

                failures.AddRange(Problems(probe, name, refused));
            }
            if (probe.AllowedRoles is null)
            {
                continue;
            }

            foreach (var (role, key) in keys)
            {
                var allowed = probe.AllowedRoles.Count == 0 || probe.AllowedRoles.Contains(ApiRoles.Name(role));
                // An agent key acts only for its own agent: fill agent ids with its own.
                var response = await SendAsync(probe.Method, Fill(probe.Template, role == ApiRole.Agent ? OwnAgent : "zz-none"), key, "{}");
                if (allowed && response.Status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                {
                    failures.Add($"{probe}: role {role} is allowed by the policy but got {(int)response.Status}");
                }
                else if (!allowed && response.Status != HttpStatusCode.Forbidden)
                {
                    failures.Add($"{probe}: role {role} is not allowed by the policy but got {(int)response.Status}, expected 403");
                }

                failures.AddRange(Problems(probe, role.ToString(), response));
                if (role != ApiRole.Agent || !allowed)
                {
                    continue;
                }

                // The same agent key for another agent, by path or by query: refused before anything is done.
                var forOther = probe.Template.Contains("{agentId}", StringComparison.OrdinalIgnoreCase) ? FillAgent(probe.Template, OtherAgent)
                    : queries.TryGetValue((probe.Method, probe.Template), out var names) && names.Contains("agentId") ? Fill(probe.Template, "zz-none") + "?agentId=" + OtherAgent
                    : null;
                if (forOther is not null)
                {
                    var other = await SendAsync(probe.Method, forOther, key, "{}");
                    // A body its own agent's request had refused too (400 / 422) may be refused first: nothing is done either way.
                    var bodyRefusedFirst = other.Status == response.Status && response.Status is HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity;
                    if (other.Status != HttpStatusCode.Forbidden && !bodyRefusedFirst)
                    {
                        failures.Add($"{probe}: agent {OwnAgent}'s key acting for agent {OtherAgent} ({forOther}) got {(int)other.Status}, expected 403");
                    }

                    failures.AddRange(Problems(probe, "another agent's id", other));
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public async Task EveryEndpoint_HostilePathsAndBodies_NoServerErrorNoHangNothingDamaged()
    {
        var probes = await ProbesAsync();
        // Several admin keys taken in turn: the per-key rate limit (HttpExtensions.RequestsPerMinute)
        // must not answer 429 for the volume of this test, which grows with every endpoint.
        var admins = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            admins.Add(await KeyAsync(ApiRole.Admin, null));
        }

        var keysBefore = await service.Database.ScalarAsync<long>("SELECT count(*) FROM api_keys", Ct);
        var rowsBefore = await RowCountsAsync();
        string[] hostileValues =
        [
            "'; DROP TABLE calls; --",
            "..%2F..%2F..%2Fetc%2Fpasswd",
            "%00",
            "%C3%28", // invalid UTF-8 once decoded
            new string('9', 5_000),
            "名字\u202Eevil",
            "1 OR 1=1",
        ];
        var hostileBodies = new List<(string Name, byte[] Bytes)>
        {
            ("truncated JSON", "{\"reason\":"u8.ToArray()),
            ("array instead of object", "[]"u8.ToArray()),
            ("wrong types", "{\"reason\":12,\"pin\":true,\"role\":[],\"agentId\":{},\"queue\":null,\"from\":\"yesterday\"}"u8.ToArray()),
            ("invalid UTF-8", [(byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xC3, 0x28, 0xFF, (byte)'"', (byte)'}']),
            ("SQL metacharacters", Encoding.UTF8.GetBytes("{\"reason\":\"x'); DELETE FROM api_keys; --\",\"name\":\"\\\\'\\\"\",\"agentId\":\"' OR '1'='1\"}")),
            ("deep nesting", Encoding.UTF8.GetBytes(new string('[', 10_000) + new string(']', 10_000))),
            ("2 MiB string", Encoding.UTF8.GetBytes("{\"reason\":\"" + new string('x', 2 << 20) + "\"}")),
        };

        var failures = new List<string>();
        foreach (var (probe, index) in probes.Select((p, i) => (p, i)))
        {
            var admin = admins[index % admins.Count];
            foreach (var value in hostileValues)
            {
                var response = await SendAsync(probe.Method, Fill(probe.Template, value, escape: false), admin, "{}");
                failures.AddRange(Problems(probe, $"path value {value[..Math.Min(value.Length, 30)]}", response));
            }

            if (probe.Method is "POST" or "PUT" or "PATCH")
            {
                foreach (var (name, bytes) in hostileBodies)
                {
                    var response = await SendAsync(probe.Method, Fill(probe.Template, "zz-none"), admin, bytes);
                    failures.AddRange(Problems(probe, name, response));
                    if (response.Status is not (HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.RequestEntityTooLarge
                        or HttpStatusCode.UnprocessableEntity or HttpStatusCode.UnsupportedMediaType or HttpStatusCode.Conflict or HttpStatusCode.ServiceUnavailable))
                    {
                        failures.Add($"{probe}: body '{name}' was accepted with {(int)response.Status}; expected a 4xx refusal");
                    }
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.Equal(1L, await service.Database.ScalarAsync<long>("SELECT count(*) FROM pg_tables WHERE tablename = 'calls'", Ct));
        Assert.Equal(keysBefore, await service.Database.ScalarAsync<long>("SELECT count(*) FROM api_keys", Ct));
        // Nothing written that should not be: no table gained or lost a row, but the audit trail (refused
        // requests are audited too) and what the running service writes by itself.
        var rowsAfter = await RowCountsAsync();
        var changed = rowsAfter.Where(t => !WrittenByTheServiceItself().IsMatch(t.Key) && rowsBefore.GetValueOrDefault(t.Key, -1) != t.Value)
            .Select(t => $"{t.Key}: {rowsBefore.GetValueOrDefault(t.Key, -1)} -> {t.Value} rows").ToList();
        Assert.True(changed.Count == 0, "hostile requests changed tables: " + string.Join("; ", changed));
    }

    /// <summary>Rows in every table of the database, by table name.</summary>
    private async Task<Dictionary<string, long>> RowCountsAsync()
    {
        var text = await service.Database.ScalarAsync<string>(
            """
            SELECT string_agg(table_name || '=' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text, ',' ORDER BY table_name)
            FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
            """, Ct);
        return text.Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0], p => long.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    [GeneratedRegex("^(audit_log|api_keys|qrtz_.*|live_.*|.*heartbeats?|.*_instances|schema_migrations)$")]
    private static partial Regex WrittenByTheServiceItself();

    [Fact]
    public async Task EveryQueryParameter_WrongTypesAndHostileValues_NoServerErrorNoHangNothingDamaged()
    {
        var probes = await ProbesAsync();
        var queries = await QueryParametersAsync();
        // The query parameters come from the served API description, so parameters added later are covered too.
        Assert.Contains(("GET", "/api/reports/{name}"), queries.Keys);
        Assert.Contains(("GET", "/api/audit"), queries.Keys);
        var admins = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            admins.Add(await KeyAsync(ApiRole.Admin, null));
        }

        var keysBefore = await service.Database.ScalarAsync<long>("SELECT count(*) FROM api_keys", Ct);
        // Already escaped for a query string: each reaches the endpoint as written in the comment.
        string[] hostileValues =
        [
            "abc", // a word for a number, a date or a flag
            "-1",
            "99999999999999999999", // past every integer type
            "1e309",
            "2026-13-45T99:99:99Z",
            "%27%3B%20DROP%20TABLE%20calls%3B%20--", // '; DROP TABLE calls; --
            "1%20OR%201%3D1", // 1 OR 1=1
            "%C3%28", // invalid UTF-8 once decoded
            "%00",
            "..%2F..%2F..%2Fetc%2Fpasswd",
            new string('9', 5_000),
            string.Empty,
        ];

        var failures = new List<string>();
        var sent = 0;
        foreach (var probe in probes)
        {
            if (!queries.TryGetValue((probe.Method, probe.Template), out var names))
            {
                continue;
            }

            // A real report, so the query reaches the report's own checks instead of a 404 for the name.
            var path = Fill(probe.Template.Replace("/api/reports/{name}", "/api/reports/" + ReportCatalog.All[0].Name, StringComparison.Ordinal), "zz-none");
            foreach (var name in names)
            {
                // The other required parameters valid (a report needs from and to), so the hostile one is what is judged.
                var rest = string.Concat(new[] { ("from", "2026-01-01"), ("to", "2026-01-02") }.Where(p => names.Contains(p.Item1) && p.Item1 != name).Select(p => $"&{p.Item1}={p.Item2}"));
                foreach (var value in hostileValues)
                {
                    var response = await SendAsync(probe.Method, $"{path}?{name}={value}{rest}", admins[sent++ % admins.Count], "{}");
                    failures.AddRange(Problems(probe, $"?{name}={value[..Math.Min(value.Length, 30)]}", response));
                }
            }
        }

        Assert.True(sent > 100, $"only {sent} requests: the API description lists fewer query parameters than expected");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.Equal(1L, await service.Database.ScalarAsync<long>("SELECT count(*) FROM pg_tables WHERE tablename = 'calls'", Ct));
        Assert.Equal(keysBefore, await service.Database.ScalarAsync<long>("SELECT count(*) FROM api_keys", Ct));
    }

    /// <summary>
    /// Every typed query parameter of the served OpenAPI document (a number, a flag, a date, a UUID) with a
    /// value of the wrong type: a 400 whose problem body names the parameter and the value, from the one place
    /// that answers every binding failure (BadRequestParameterHandler), not ASP.NET's bare 400.
    /// </summary>
    [Fact]
    public async Task EveryTypedQueryParameter_WrongType_Gets400NamingTheParameter()
    {
        var probes = await ProbesAsync();
        var typed = await TypedQueryParametersAsync();
        TestContext.Current.SendDiagnosticMessage("typed query parameters: " + string.Join(", ", typed.Select(t => $"{t.Method} {t.Template} ?{t.Name} ({t.Type})")));
        // The three found by the abuse run of 2026-11-30 are among them; parameters added later are covered too.
        Assert.Contains(("GET", "/api/audit", "limit"), typed.Select(t => (t.Method, t.Template, t.Name)));
        Assert.Contains(("GET", "/api/audit", "from"), typed.Select(t => (t.Method, t.Template, t.Name)));
        Assert.Contains(typed, t => t.Method == "POST" && t.Template.EndsWith("/leads", StringComparison.Ordinal) && t.Name == "skipBad");
        var admins = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            admins.Add(await KeyAsync(ApiRole.Admin, null));
        }

        var failures = new List<string>();
        var sent = 0;
        foreach (var (method, template, name, type) in typed)
        {
            // The API description's path may spell a route parameter without its constraint; the probe is for the messages.
            var probe = probes.FirstOrDefault(p => p.Method == method && p.Template == template) ?? new Probe(method, template, []);
            var path = Fill(template.Replace("/api/reports/{name}", "/api/reports/" + ReportCatalog.All[0].Name, StringComparison.Ordinal), "zz-none");
            foreach (var value in new[] { "abc", "1%3B%20DROP" })
            {
                var response = await SendAsync(method, $"{path}?{name}={value}", admins[sent++ % admins.Count], "{}");
                var shown = Uri.UnescapeDataString(value);
                var detail = ProblemDetail(response.Body);
                if (response.Status != HttpStatusCode.BadRequest || detail is null || !detail.StartsWith($"query parameter '{name}': '{shown}' is not ", StringComparison.Ordinal))
                {
                    failures.Add($"{probe} ?{name}={shown} ({type}): {(int)response.Status} {Trim(response.Body)}; expected 400 with the detail \"query parameter '{name}': '{shown}' is not ...\"");
                }

                failures.AddRange(Problems(probe, $"?{name}={shown}", response));
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    // The "detail" of a problem body, or null when the body is not one.
    private static string? ProblemDetail(string body)
    {
        try
        {
            using var problem = JsonDocument.Parse(body);
            return problem.RootElement.ValueKind == JsonValueKind.Object && problem.RootElement.TryGetProperty("detail", out var detail) ? detail.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The query parameters whose schema in the served OpenAPI document is not free text: numbers, flags, dates, UUIDs.</summary>
    private async Task<List<(string Method, string Template, string Name, string Type)>> TypedQueryParametersAsync()
    {
        using var http = service.Client();
        using var document = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json", Ct));
        var typed = new List<(string, string, string, string)>();
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                if (!operation.Value.TryGetProperty("parameters", out var parameters))
                {
                    continue;
                }

                foreach (var parameter in parameters.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query" && p.TryGetProperty("schema", out _)))
                {
                    var schema = parameter.GetProperty("schema");
                    var types = !schema.TryGetProperty("type", out var type) ? []
                        : type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToList()
                        : [type.GetString()!];
                    var format = schema.TryGetProperty("format", out var f) ? f.GetString() : null;
                    var isTyped = types.Any(t => t is "integer" or "number" or "boolean") || format is "date-time" or "date" or "time" or "uuid" or "duration";
                    if (isTyped)
                    {
                        typed.Add((operation.Name.ToUpperInvariant(), path.Name, parameter.GetProperty("name").GetString()!, string.Join("|", types) + (format is null ? string.Empty : " " + format)));
                    }
                }
            }
        }

        return typed;
    }

    /// <summary>The query parameters of every operation, by method and route template, from the served OpenAPI document.</summary>
    private async Task<Dictionary<(string Method, string Template), List<string>>> QueryParametersAsync()
    {
        using var http = service.Client();
        using var document = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json", Ct));
        var queries = new Dictionary<(string, string), List<string>>();
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                if (!operation.Value.TryGetProperty("parameters", out var parameters))
                {
                    continue;
                }

                var names = parameters.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query").Select(p => p.GetProperty("name").GetString()!).ToList();
                if (names.Count > 0)
                {
                    queries[(operation.Name.ToUpperInvariant(), path.Name)] = names;
                }
            }
        }

        return queries;
    }

    private static string FillAgent(string template, string agent) =>
        RouteParameter().Replace(template, m => m.Groups[1].Value.Equals("agentId", StringComparison.OrdinalIgnoreCase) ? agent : "zz-none");

    private async Task<string> KeyAsync(ApiRole role, string? agent)
    {
        var store = service.App.Services.GetRequiredService<ApiKeyStore>();
        var created = await store.CreateAsync($"abuse-{role}-{Guid.NewGuid():N}"[..24], role, agent, "test", Ct);
        return created.Token;
    }

    /// <summary>Every route endpoint with its methods and the roles its policies allow (null: no key needed; empty: any key).</summary>
    private async Task<List<Probe>> ProbesAsync()
    {
        var sources = service.App.Services.GetServices<EndpointDataSource>();
        var policies = service.App.Services.GetRequiredService<IAuthorizationPolicyProvider>();
        var probes = new List<Probe>();
        foreach (var endpoint in sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>())
        {
            var template = "/" + endpoint.RoutePattern.RawText?.TrimStart('/');
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            IReadOnlyList<string>? roles = null;
            if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null)
            {
                foreach (var data in endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>())
                {
                    var policy = data.Policy is { } name ? await policies.GetPolicyAsync(name) : await policies.GetDefaultPolicyAsync();
                    Assert.NotNull(policy);
                    var allowed = policy.Requirements.OfType<RolesAuthorizationRequirement>().SelectMany(r => r.AllowedRoles).ToList();
                    // Several policies on one endpoint: each must pass, so the roles allowed are the intersection.
                    roles = roles is null ? allowed : roles.Count == 0 ? allowed : allowed.Count == 0 ? roles : [.. roles.Intersect(allowed)];
                }
            }

            probes.AddRange(methods.Select(m => new Probe(m, template, roles)));
        }

        return [.. probes.DistinctBy(p => (p.Method, p.Template))];
    }

    private static string Fill(string template, string value, bool escape = true) =>
        RouteParameter().Replace(template, m => m.Groups[1].Value.Equals("agentId", StringComparison.OrdinalIgnoreCase) && value == OwnAgent
            ? OwnAgent
            : escape ? Uri.EscapeDataString(value) : value);

    private Task<Reply> SendAsync(string method, string path, string? key, string body) => SendAsync(method, path, key, Encoding.UTF8.GetBytes(body));

    private async Task<Reply> SendAsync(string method, string path, string? key, byte[] body)
    {
        using var http = service.Client(key);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is "POST" or "PUT" or "PATCH")
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(RequestLimit);
        try
        {
            // Headers only: event streams stay open by design, their status is what is checked.
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var text = response.Content.Headers.ContentType?.MediaType is "text/event-stream" ? string.Empty : await ReadSomeAsync(response, timeout.Token);
            return new Reply(response.StatusCode, text, TimedOut: false);
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            return new Reply(0, string.Empty, TimedOut: true);
        }
        catch (HttpRequestException ex)
        {
            // The server may refuse an oversized body by closing the connection; that is a refusal, not a crash.
            return new Reply(HttpStatusCode.RequestEntityTooLarge, ex.Message, TimedOut: false);
        }
    }

    private static async Task<string> ReadSomeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[64 * 1024];
        var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        return Encoding.UTF8.GetString(buffer, 0, read);
    }

    private static IEnumerable<string> Problems(Probe probe, string attempt, Reply reply)
    {
        if (reply.TimedOut)
        {
            yield return $"{probe} with {attempt}: no answer within {RequestLimit.TotalSeconds} s";
            yield break;
        }

        if ((int)reply.Status >= 500 && reply.Status != HttpStatusCode.ServiceUnavailable)
        {
            yield return $"{probe} with {attempt}: {(int)reply.Status} {Trim(reply.Body)}";
        }

        // Refusals and errors must not show internals (metrics and documents may name anything).
        if ((int)reply.Status >= 400 && (reply.Body.Contains("   at ", StringComparison.Ordinal) || reply.Body.Contains("Exception", StringComparison.Ordinal) || reply.Body.Contains("Npgsql", StringComparison.Ordinal)))
        {
            yield return $"{probe} with {attempt}: the answer shows internals: {Trim(reply.Body)}";
        }
    }

    private static string Trim(string text) => text.Length > 300 ? text[..300] + "..." : text;

    [GeneratedRegex(@"\{\*{0,2}([A-Za-z0-9_]+)[^}]*\}")]
    private static partial Regex RouteParameter();

    private sealed record Probe(string Method, string Template, IReadOnlyList<string>? AllowedRoles)
    {
        public override string ToString() => $"{Method} {Template}";
    }

    private sealed record Reply(HttpStatusCode Status, string Body, bool TimedOut);
}

/// <summary>The real host with call control on (a queue, two agents with desk phones), so requests reach the call center, not a 503.</summary>
public sealed class CallCenterService : RunningService
{
    /// <inheritdoc/>
    protected override void Configure(CtiBridgeSettings settings)
    {
        var pinHash = AgentPin.Hash("4321", iterations: 1000);
        settings.CallControl = new CallControlSettings
        {
            Queues = [new CallQueueSettings { Name = "support" }],
            Agents = [.. new[] { "9001", "9002" }.Select(id => new CallAgentSettings { Id = id, Extension = "PJSIP/" + id, PinHash = pinHash, Queues = ["support"] })],
            Dids = [new DidRouteSettings { Number = "4008001", Queue = "support" }],
            RecordJournalDirectory = Directory.CreateTempSubdirectory("ctibridge-abuse-").FullName,
        };
    }
}
