using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.Service.Configuration;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Abuse of the two files people hand to CtiBridge: a lead list (CSV) and the configuration file.
/// Each case mutates a good file (seeded, so a failure is reproducible from its case number) and
/// checks that the outcome is a result or the documented error naming what was wrong and where;
/// never another exception, and for leads nothing written that should not be.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class InputFuzzTests
{
    private const int Seed = 14;
    private static readonly FakeTimeProvider Clock = new(new DateTimeOffset(2026, 11, 30, 14, 0, 0, TimeSpan.Zero));

    internal const string GoodLeads =
        "name,phone,time_zone,product,note\r\n"
        + "Jane,(212) 555-0100,,\"gold, annual\",\"said \"\"call after 5\"\"\"\n"
        + "Bob,+1 415 555 0101,America/Chicago,silver,\n"
        + "\n"
        + "Ann,1-212-555-0102,,\"multi\nline\",x\n"
        + "Li,2125550103,America/New_York,bronze,\u00e9t\u00e9\n";

    [Fact]
    public async Task LeadCsv_MutatedFiles_AreImportedOrRejectedWithLineAndReason_NeverCrash_NothingStrayWritten()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        var store = new CampaignStore(database.DataSource, Clock);
        await store.PutAsync(CampaignDefinition.Parse("""
            { "id": "fuzz", "agentGroup": "sales", "mode": "Progressive", "callerId": "+18005550100", "trunkPrefix": "PJSIP/carrier/",
              "timeZones": { "+1212": "America/New_York", "+1415": "America/Los_Angeles" }, "defaultCountryCode": "1" }
            """), "test", ct);
        var importer = new LeadImporter(database.DataSource, store, Clock);
        var random = new Random(Seed);
        var good = Encoding.UTF8.GetBytes(GoodLeads);
        var importedTotal = 0;
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);

        for (var n = 0; n < 150; n++)
        {
            var bytes = Mutate(random, good, CsvAlphabet);
            var what = $"case {n} (seed {Seed}): {Escape(bytes)}";
            try
            {
                // As the HTTP upload decodes it: invalid UTF-8 is an error, not silently replaced.
                using var reader = new StreamReader(new MemoryStream(bytes), new UTF8Encoding(false, throwOnInvalidBytes: true));
                var report = await importer.ImportAsync("fuzz", reader, new LeadImportOptions { FileName = "leads.csv", ImportedBy = "fuzz", SkipBadRows = n % 2 == 0 }, ct);
                Assert.True(report.Rejects.All(r => r.Line >= 1 && r.Reason.Length > 0), what + ": every reject names its line and why");
                Assert.True(report.Committed || report.Imported == 0, what + ": an import not committed wrote leads");
                importedTotal += report.Imported;
                Count(outcomes, report.Committed ? "committed" : "refused (bad rows)");
            }
            catch (LeadImportException ex)
            {
                Assert.StartsWith("leads.csv", ex.Message, StringComparison.Ordinal);
                Count(outcomes, "refused (file)");
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"{what}: {ex.GetType().Name} escaped the importer: {ex}");
            }
        }

        // Every lead in the table came from a committed import's count: nothing written by a refused one.
        Assert.Equal(importedTotal, (int)await database.ScalarAsync<long>("SELECT count(*) FROM dialer_leads WHERE campaign_id = 'fuzz'", ct));
        TestContext.Current.SendDiagnosticMessage("lead CSV fuzz: " + string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}")));
        Assert.True(outcomes.Count >= 2, "the mutations must reach more than one outcome: " + string.Join(", ", outcomes.Keys));
    }

    [Fact]
    public void ConfigurationFile_MutatedBytes_LoadOrSayWhatIsWrong_NeverCrash()
    {
        var good = File.ReadAllBytes(Path.Combine(RepositoryPaths.Root, "docs", "ctibridge.sample.json"));
        var random = new Random(Seed);
        var path = Path.Combine(Path.GetTempPath(), $"ctibridge-fuzz-{Guid.NewGuid():N}.json");
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            for (var n = 0; n < 300; n++)
            {
                var bytes = Mutate(random, good, JsonAlphabet);
                File.WriteAllBytes(path, bytes);
                LoadOrExplain(path, $"case {n} (seed {Seed})", outcomes);
            }
        }
        finally
        {
            File.Delete(path);
        }

        TestContext.Current.SendDiagnosticMessage("configuration byte fuzz: " + string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}")));
        AssertNoCrash();
        Assert.True(outcomes.Count >= 2, "the mutations must reach more than one outcome: " + string.Join(", ", outcomes.Keys));
    }

    [Fact]
    public void ConfigurationFile_ValuesOfTheWrongKind_LoadOrSayWhatIsWrong_NeverCrash()
    {
        var sample = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", "ctibridge.sample.json"));
        var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        var random = new Random(Seed);
        var path = Path.Combine(Path.GetTempPath(), $"ctibridge-fuzz-{Guid.NewGuid():N}.json");
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            for (var n = 0; n < 300; n++)
            {
                var root = JsonNode.Parse(sample, documentOptions: options)!;
                var places = Places(root).ToList();
                var changes = new List<string>();
                for (var k = 0; k < 1 + random.Next(2); k++)
                {
                    var (parent, key) = places[random.Next(places.Count)];
                    var value = HostileValues[random.Next(HostileValues.Length)];
                    Replace(parent, key, value?.DeepClone());
                    changes.Add($"{parent.GetPath()}.{key} = {Shorten(value?.ToJsonString() ?? "null")}");
                    places = Places(root).ToList();
                }

                File.WriteAllText(path, root.ToJsonString());
                LoadOrExplain(path, $"case {n} (seed {Seed}): {string.Join("; ", changes)}", outcomes);
            }
        }
        finally
        {
            File.Delete(path);
        }

        TestContext.Current.SendDiagnosticMessage("configuration value fuzz: " + string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}")));
        AssertNoCrash();
        Assert.True(outcomes.ContainsKey("refused"), "wrong values must be refused somewhere");
    }

    // The sample's secret references resolve from these (never real secrets).
    private static readonly Hashtable Environment = new()
    {
        ["CTIBRIDGE_DB_PASSWORD"] = "db-secret",
        ["CTIBRIDGE_AMI_SECRET"] = "ami-secret",
        ["CTIBRIDGE_ARI_PASSWORD"] = "ari-secret",
        ["CTIBRIDGE_ADMIN_KEY"] = "admin-key-0123456789abcdef0123456789",
        ["CTIBRIDGE_SUPERVISOR_KEY"] = "supervisor-key-0123456789abcdef01234",
        ["CTIBRIDGE_WEBHOOK_SECRET"] = "webhook-secret-0123456789",
    };

    private void LoadOrExplain(string path, string what, Dictionary<string, int> outcomes)
    {
        try
        {
            SettingsLoader.Load(path, Environment);
            Count(outcomes, "loaded");
        }
        catch (SettingsException ex)
        {
            // Either the file and the place in it, or the settings' names (e.g. "callControl.queues[0].ringTimeout: …").
            Assert.True(ex.Problems.Count > 0 && ex.Problems.All(p => p.ToString()!.Length > 0), $"{what}: an error without a problem named");
            Assert.True(ex.Message.Contains(path, StringComparison.Ordinal) || ex.Problems.All(p => p.Path.Length > 0),
                $"{what}: the error says neither the file nor the setting: {ex.Message}");
            Count(outcomes, "refused");
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            // Collected, so one run lists every kind of crash, not just the first.
            var kind = $"{ex.GetType().Name} at {ex.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}";
            if (!Crashes.ContainsKey(kind))
            {
                Crashes[kind] = $"{what}: {ex}";
            }

            Count(outcomes, "crashed");
        }
    }

    private readonly Dictionary<string, string> _crashes = new(StringComparer.Ordinal);

    private Dictionary<string, string> Crashes => _crashes;

    private void AssertNoCrash() =>
        Assert.True(Crashes.Count == 0, $"{Crashes.Count} kind(s) of exception escaped the configuration loader:\n" + string.Join("\n\n", Crashes.Values));

    internal static readonly JsonNode?[] HostileValues =
    [
        null, 0, -1, 1e308, 2147483648L, "", "abc", "-00:00:05", "99:99:99", true, new JsonArray(), new JsonObject(),
        new JsonArray(1, "x"), new JsonObject { ["x"] = 1 }, "' OR 1=1 --", "../../../etc/passwd", "\u0000", "\ud800",
        "${env:NOT_SET_ANYWHERE}", "${file:/nonexistent}", new string('x', 100_000), "http://", "PJSIP/", "{", "0x10",
    ];

    // Every (container, key-or-index) that holds a value, so any value can be replaced.
    internal static IEnumerable<(JsonNode Parent, object Key)> Places(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, child) in obj.ToList())
                {
                    yield return (obj, key);
                    if (child is not null)
                    {
                        foreach (var place in Places(child))
                        {
                            yield return place;
                        }
                    }
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    yield return (array, i);
                    if (array[i] is { } child)
                    {
                        foreach (var place in Places(child))
                        {
                            yield return place;
                        }
                    }
                }

                break;
        }
    }

    internal static void Replace(JsonNode parent, object key, JsonNode? value)
    {
        if (parent is JsonObject obj)
        {
            obj[(string)key] = value;
        }
        else
        {
            ((JsonArray)parent)[(int)key] = value;
        }
    }

    internal const string CsvAlphabet = ",\"\r\n;+-() 0123456789abcTZ/\t";
    internal const string JsonAlphabet = "{}[]\":,/*\\ 0123456789.-+eEtrufalsn$";

    /// <summary>
    /// 1–4 mutations of <paramref name="source"/>: a byte changed (biased to the format's own
    /// characters), characters inserted, a run deleted or doubled, the tail cut, invalid UTF-8 or a NUL
    /// inserted, or a very long field.
    /// </summary>
    internal static byte[] Mutate(Random random, byte[] source, string alphabet)
    {
        var bytes = new List<byte>(source);
        for (var m = 0; m < 1 + random.Next(4); m++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(9))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1 when bytes.Count > 0:
                    bytes[at] = (byte)alphabet[random.Next(alphabet.Length)];
                    break;
                case 2:
                    bytes.InsertRange(at, Encoding.ASCII.GetBytes(new string(alphabet[random.Next(alphabet.Length)], 1 + random.Next(3))));
                    break;
                case 3 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(1 + random.Next(40), bytes.Count - at));
                    break;
                case 4 when bytes.Count > 0:
                    bytes.InsertRange(at, bytes.GetRange(at, Math.Min(1 + random.Next(60), bytes.Count - at)));
                    break;
                case 5:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 6:
                    bytes.InsertRange(at, random.Next(3) switch { 0 => [0xC3, 0x28], 1 => [0xFF], _ => [0x80, 0x80] });
                    break;
                case 7:
                    bytes.Insert(at, 0);
                    break;
                default:
                    bytes.InsertRange(at, Enumerable.Repeat((byte)'9', 5_000 + random.Next(20_000)));
                    break;
            }
        }

        return [.. bytes];
    }

    private static void Count(Dictionary<string, int> outcomes, string outcome) =>
        outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;

    internal static string Escape(byte[] bytes) =>
        Shorten(string.Concat(bytes.Take(400).Select(b => b is >= 32 and < 127 ? ((char)b).ToString() : string.Create(CultureInfo.InvariantCulture, $"\\x{b:x2}"))));

    internal static string Shorten(string text) => text.Length > 300 ? text[..300] + $"…({text.Length} chars)" : text;
}
