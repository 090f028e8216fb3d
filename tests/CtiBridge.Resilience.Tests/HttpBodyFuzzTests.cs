using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Access;
using CtiBridge.Data.Dialer;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Http;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// The two bodies people send the running service, fuzzed end to end over HTTP (issue 14): a
/// campaign's lead file (<c>POST /api/campaigns/{id}/leads</c>) and the callControl section
/// (<c>PUT /api/config/call-control</c>), each mutated from a good one (seeded: a failure names its
/// case, and the same seed replays it). Every answer is a success or a 4xx whose body says what was
/// wrong and where, never a 5xx; nothing is lost and nothing stray is written (the leads in the table
/// are exactly those of the imports answered as committed; a refused section leaves the running
/// configuration as it was); and afterwards the same service still answers a customer's call.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class HttpBodyFuzzTests
{
    private const int Seed = 1414;

    [Fact]
    public async Task LeadUpload_MutatedCsvBodies_ImportedOrRefusedWithLineAndReason_LeadsCountMatches_ServiceKeepsServing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await CallTraffic.StartAsync(database, 1, ct);
        await new CampaignStore(database.DataSource, TimeProvider.System).PutAsync(CampaignDefinition.Parse("""
            { "id": "fuzz", "agentGroup": "support", "mode": "Progressive", "callerId": "+18005550100", "trunkPrefix": "PJSIP/carrier/",
              "timeZones": { "+1212": "America/New_York", "+1415": "America/Los_Angeles" }, "defaultCountryCode": "1" }
            """), "test", ct);
        using var supervisor = await HttpApi.ClientAsync(rig, ApiRole.Supervisor, ct);
        var random = new Random(Seed);
        var good = Encoding.UTF8.GetBytes(InputFuzzTests.GoodLeads);
        var committed = 0;
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);

        for (var n = 0; n < 80; n++)
        {
            var bytes = InputFuzzTests.Mutate(random, good, InputFuzzTests.CsvAlphabet);
            var skipBad = n % 2 == 0;
            using var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
            using var answer = await supervisor.PostAsync("/api/campaigns/fuzz/leads" + (skipBad ? "?skipBad=true" : string.Empty), content, ct);
            var text = await answer.Content.ReadAsStringAsync(ct);
            var what = $"case {n} (seed {Seed}, skipBad {skipBad}): {(int)answer.StatusCode} {InputFuzzTests.Shorten(text)} for {InputFuzzTests.Escape(bytes)}";
            using var body = JsonDocument.Parse(text);
            switch (answer.StatusCode)
            {
                case HttpStatusCode.OK:
                    Assert.True(body.RootElement.GetProperty("committed").GetBoolean(), what);
                    AssertRejectsNamed(body.RootElement, what);
                    committed += body.RootElement.GetProperty("imported").GetInt32();
                    Count(outcomes, "imported");
                    break;
                case HttpStatusCode.UnprocessableEntity:
                    // All or nothing: a bad row and no skipBad imports nothing, and says which rows.
                    Assert.False(skipBad, what);
                    Assert.False(body.RootElement.GetProperty("committed").GetBoolean(), what);
                    Assert.Equal(0, body.RootElement.GetProperty("imported").GetInt32());
                    Assert.True(body.RootElement.GetProperty("rejects").GetArrayLength() > 0, what + ": refused without naming a row");
                    AssertRejectsNamed(body.RootElement, what);
                    Count(outcomes, "refused (bad rows)");
                    break;
                case HttpStatusCode.BadRequest:
                    // The whole file is unusable: the message names the file and where (a line) or why.
                    var message = Assert.Single(body.RootElement.GetProperty("errors").GetProperty("file").EnumerateArray()).GetString()!;
                    Assert.True(message.StartsWith("upload.csv", StringComparison.Ordinal) && message.Length > "upload.csv: ".Length + 10, what);
                    Count(outcomes, "refused (file)");
                    break;
                default:
                    Assert.Fail(what + ": neither a result nor a 4xx saying what is wrong");
                    break;
            }
        }

        TestContext.Current.SendDiagnosticMessage("HTTP lead upload fuzz: " + string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}")));
        Assert.True(outcomes.Count >= 3, "the mutations must reach every kind of answer: " + string.Join(", ", outcomes.Keys));
        Assert.Equal(committed, (int)await database.ScalarAsync<long>("SELECT count(*) FROM dialer_leads WHERE campaign_id = 'fuzz'", ct));
        await CustomerStillServedAsync(rig, ["2001"], ct);
    }

    [Fact]
    public async Task CallControlBody_MutatedBytesAndHostileValues_AppliedOrRefusedNamingThePlace_RunningConfigurationKept_ServiceKeepsServing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await CallTraffic.StartAsync(database, 2, ct);
        using var admin = await HttpApi.ClientAsync(rig, ApiRole.Admin, ct);
        var goodSection = Running(rig);
        var good = Encoding.UTF8.GetBytes(goodSection);
        var random = new Random(Seed);
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);

        for (var n = 0; n < 160; n++)
        {
            // Even cases: bytes mutated (syntax, encoding); odd ones: well-formed JSON with values of the wrong kind.
            string change;
            byte[] bytes;
            if (n % 2 == 0)
            {
                bytes = InputFuzzTests.Mutate(random, good, InputFuzzTests.JsonAlphabet);
                change = InputFuzzTests.Escape(bytes);
            }
            else
            {
                var root = JsonNode.Parse(goodSection)!;
                var places = InputFuzzTests.Places(root).ToList();
                var (parent, key) = places[random.Next(places.Count)];
                var value = InputFuzzTests.HostileValues[random.Next(InputFuzzTests.HostileValues.Length)];
                InputFuzzTests.Replace(parent, key, value?.DeepClone());
                change = $"{parent.GetPath()}.{key} = {InputFuzzTests.Shorten(value?.ToJsonString() ?? "null")}";
                bytes = Encoding.UTF8.GetBytes(root.ToJsonString());
            }

            var before = Running(rig);
            using var answer = await PutAsync(admin, bytes, ct);
            var text = await answer.Content.ReadAsStringAsync(ct);
            var what = $"case {n} (seed {Seed}): {(int)answer.StatusCode} {InputFuzzTests.Shorten(text)} for {change}";
            switch ((int)answer.StatusCode)
            {
                case 200:
                    Count(outcomes, "applied");

                    // Put the good section back, so every case starts from the same running configuration.
                    using (var restored = await PutAsync(admin, good, ct))
                    {
                        Assert.True(restored.StatusCode == HttpStatusCode.OK, $"{what}: the good section was refused afterwards: {await restored.Content.ReadAsStringAsync(ct)}");
                    }

                    break;
                case 422:
                    var problems = JsonDocument.Parse(text).RootElement.GetProperty("problems").EnumerateArray().Select(p => p.GetString()!).ToList();
                    Assert.True(problems.Count > 0, what);

                    // Each problem names its place: the setting (callControl.queues[0]…) or the place in the body (line, position).
                    Assert.All(problems, p => Assert.True(
                        p.StartsWith("callControl", StringComparison.Ordinal) || p.StartsWith("request body", StringComparison.Ordinal), $"{what}: a problem without its place: {p}"));
                    Assert.Equal(before, Running(rig));
                    Count(outcomes, "refused (problems)");
                    break;
                case 400:
                    Assert.Contains("request body: line ", JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString()!, StringComparison.Ordinal);
                    Assert.Equal(before, Running(rig));
                    Count(outcomes, "refused (not UTF-8)");
                    break;
                default:
                    Assert.Fail(what + ": neither applied nor a 4xx naming the problem");
                    break;
            }
        }

        TestContext.Current.SendDiagnosticMessage("HTTP callControl body fuzz: " + string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}")));
        Assert.True(outcomes.Count >= 3, "the mutations must reach every kind of answer: " + string.Join(", ", outcomes.Keys));
        Assert.Equal(goodSection, Running(rig));
        await CustomerStillServedAsync(rig, ["2001", "2002"], ct);
    }

    private static Task<HttpResponseMessage> PutAsync(HttpClient admin, byte[] body, CancellationToken ct)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return admin.PutAsync("/api/config/call-control", content, ct);
    }

    /// <summary>The running callControl section as JSON (what a refused body must leave unchanged).</summary>
    private static string Running(CallCenterRig rig) =>
        JsonNode.Parse(ConfigurationFile.Json(new CtiBridgeSettings { CallControl = rig.Center.Settings }))!["callControl"]!.ToJsonString();

    private static void AssertRejectsNamed(JsonElement report, string what)
    {
        foreach (var reject in report.GetProperty("rejects").EnumerateArray())
        {
            Assert.True(reject.GetProperty("line").GetInt32() >= 1 && reject.GetProperty("reason").GetString() is { Length: > 0 }, $"{what}: a reject without its line and reason: {reject}");
        }
    }

    /// <summary>After the abuse, the same service takes a customer's call to an agent and settles (every call ended once, agents Ready).</summary>
    private static async Task CustomerStillServedAsync(CallCenterRig rig, IReadOnlyList<string> agents, CancellationToken ct)
    {
        await CallTraffic.CallInAsync(rig, 2, TimeSpan.FromMilliseconds(150), ct);
        await rig.AcdEvents.WaitForAsync<Core.Acd.CallAnswered>(_ => true, "a call answered after the fuzzing", ct);
        await CallTraffic.AssertSettledAsync(rig, agents, ct);
    }

    private static void Count(Dictionary<string, int> outcomes, string outcome) => outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
}
