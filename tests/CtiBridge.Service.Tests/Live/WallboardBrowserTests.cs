using System.Diagnostics;
using System.Net.Http.Json;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Access;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Dialer;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.Service.Tests.Http;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace CtiBridge.Service.Tests.Live;

/// <summary>
/// The wallboard page in a real headless browser (Debian's chromium + chromium-driver, installed by
/// scripts/test.sh), fed live by the service while PbxSim places calls and agents change state
/// through the API. A screenshot is saved for humans (CTIBRIDGE_TEST_ARTIFACTS, else next to the tests).
/// </summary>
[Trait("Tier", "Browser")]
public sealed class WallboardBrowserTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    /// <summary>
    /// A bounded wait for each change to show, not a latency check: timings belong in benchmarks
    /// (the wallboard fan-out benchmark in docs/benchmarks.md measures the 1 s promise), and a
    /// test machine shared with builds cannot hold a 1 s bound. The latencies seen are printed.
    /// </summary>
    private static readonly TimeSpan ShownWithin = TimeSpan.FromSeconds(15);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Wallboard_ShowsAgentStateChangesAndACallEnteringTheQueue_Live()
    {
        var queue = new CallQueueSettings { Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(30), MusicOnHold = "default" };
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001"), ("2002", "1002")], Ct);
        var address = rig.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var store = new ApiKeyStore(database.Database.DataSource, TimeProvider.System);
        var wallboardKey = (await store.CreateAsync("wallboard-tv", ApiRole.Reporting, null, "test", Ct)).Token;
        using var supervisor = new HttpClient { BaseAddress = new Uri(address) };
        supervisor.DefaultRequestHeaders.Authorization = new("Bearer", (await store.CreateAsync("supervisor-1", ApiRole.Supervisor, null, "test", Ct)).Token);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));

        using var browser = StartBrowser();
        browser.Navigate().GoToUrl($"{address}/wallboard/#key={wallboardKey}");
        Until(browser, TimeSpan.FromSeconds(15), d => d.FindElement(By.Id("status")).Text == "live" && AgentState(d, "2001") == "LoggedOut");
        Assert.DoesNotContain("key=", browser.Url, StringComparison.Ordinal);

        // An agent logs in through the API.
        var login = await supervisor.PostAsJsonAsync("/api/agents/2001/login", new { pin = CallCenterRig.Pin }, Ct);
        login.EnsureSuccessStatusCode();
        var shownReady = Until(browser, ShownWithin, d => AgentState(d, "2001") == "Ready");

        // The agent pauses, so a call from PbxSim waits in the queue.
        (await supervisor.PostAsJsonAsync("/api/supervisor/agents/2001/pause", new { reason = "coaching" }, Ct)).EnsureSuccessStatusCode();
        var shownPaused = Until(browser, ShownWithin, d => AgentState(d, "2001") == "Paused" && Cell(d, "agents", "2001", "reason") == "coaching");
        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        var server = rig.Settings.Asterisk.Single().Name;
        var shownWaiting = Until(browser, ShownWithin, d => Cell(d, "queues", "support", "waiting") == "1" && Cell(d, "servers", server, "waiting") == "1");

        // Resumed, the agent gets the waiting call.
        (await supervisor.PostAsync("/api/agents/2001/resume", null, Ct)).EnsureSuccessStatusCode();
        await rig.AgentWentAsync("2001", Core.Acd.AgentState.Ringing, Core.Acd.AgentState.OnCall, Ct);
        var shownOnCall = Until(browser, ShownWithin, d => AgentState(d, "2001") == "OnCall" && Cell(d, "queues", "support", "waiting") == "0" && Cell(d, "queues", "support", "oncall") == "1");
        SaveScreenshot(browser);
        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2001", Core.Acd.AgentState.OnCall, Core.Acd.AgentState.WrapUp, Ct);
        var shownAnswered = Until(browser, ShownWithin, d => Cell(d, "queues", "support", "answered") == "1" && AgentState(d, "2001") == "WrapUp");

        TestContext.Current.SendDiagnosticMessage(
            $"Wallboard latency (bound {ShownWithin.TotalSeconds} s): ready {shownReady.TotalMilliseconds:F0} ms, paused {shownPaused.TotalMilliseconds:F0} ms, waiting call {shownWaiting.TotalMilliseconds:F0} ms, on call {shownOnCall.TotalMilliseconds:F0} ms, answered {shownAnswered.TotalMilliseconds:F0} ms");
        Assert.Equal("100.0 %", Cell(browser, "queues", "support", "sl"));
        // The server tile: the call was on the rig's one Asterisk server, and so is agent 2001's phone.
        Until(browser, ShownWithin, d => Cell(d, "servers", server, "answered") == "1");
        Assert.Equal(["0", "1", "100.0 %", "1", "0"], new[] { "waiting", "offered", "sl", "wrapup", "ready" }.Select(c => Cell(browser, "servers", server, c)));
        Assert.Equal("LoggedOut", AgentState(browser, "2002"));
    }

    [Fact]
    public async Task Wallboard_SupervisorButtonsActOnAgents_CampaignTileShowsTheDialer_ReportingKeySeesNoButtons()
    {
        var queue = new CallQueueSettings { Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(1), MusicOnHold = "default" };
        var journal = Directory.CreateTempSubdirectory("ctibridge-wallboard-dialer-").FullName;
        var campaignId = "tile-" + Guid.NewGuid().ToString("N")[..8];

        // The campaign comes from the configuration file's campaigns (stored at start-up), the dialer runs in the service.
        await using var rig = await CampaignLine.StartAsync(database.Database, queue, [("2001", "1001"), ("2002", "1002")], campaignId, journal, Ct);
        var address = rig.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var store = new ApiKeyStore(database.Database.DataSource, TimeProvider.System);
        var supervisorKey = (await store.CreateAsync("supervisor-tv", ApiRole.Supervisor, null, "test", Ct)).Token;
        var reportingKey = (await store.CreateAsync("reporting-tv", ApiRole.Reporting, null, "test", Ct)).Token;
        using var admin = new HttpClient { BaseAddress = new Uri(address) };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", (await store.CreateAsync("admin-1", ApiRole.Admin, null, "test", Ct)).Token);
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(100));
        (await admin.PostAsJsonAsync("/api/agents/2001/login", new { pin = CallCenterRig.Pin }, Ct)).EnsureSuccessStatusCode();

        // Start the campaign and put agent 2002 on its nailed-up line.
        await CampaignLine.RunAsync(database.Database, campaignId, Ct);
        await CampaignLine.JoinAsync(admin, campaignId, "2002", "PJSIP/1002", Ct);

        using var browser = StartBrowser();
        browser.Navigate().GoToUrl($"{address}/wallboard/#key={supervisorKey}");
        Until(browser, TimeSpan.FromSeconds(15), d => d.FindElement(By.Id("status")).Text == "live" && AgentState(d, "2001") == "Ready");

        // The campaign tile: its mode, the agent idle on the nailed-up line, nothing dialled (no leads).
        Until(browser, ShownWithin, d => d.FindElement(By.Id("campaigns-section")).Displayed && CampaignCell(d, campaignId, "idle") == "1");
        Assert.Equal(["Progressive", "0", "0", "0.0 %"], new[] { "text:nth-child(2)", "busy", "dials", "abandonrate" }.Select(c => CampaignCell(browser, campaignId, c)));

        // Pause with a reason typed into the page's prompt; the API does it, the board shows it.
        // (The class shares its database: only this test's audit rows count.)
        var auditBefore = await database.Database.ScalarAsync<long>("SELECT coalesce(max(id), 0) FROM audit_log", Ct);
        ClickAction(browser, "2001", "pause");
        var prompt = browser.SwitchTo().Alert();
        prompt.SendKeys("coaching");
        prompt.Accept();
        Until(browser, ShownWithin, d => AgentState(d, "2001") == "Paused" && Cell(d, "agents", "2001", "reason") == "coaching");
        Assert.Equal("pause 2001: done", browser.FindElement(By.Id("action-result")).Text);
        Assert.Equal(Core.Acd.AgentState.Paused, (await rig.Center.GetAgentAsync("2001", Ct))!.State);
        SaveScreenshot(browser, "wallboard-supervisor.png");

        // Resume (shown only while paused), then log out after a confirmation.
        ClickAction(browser, "2001", "resume");
        Until(browser, ShownWithin, d => AgentState(d, "2001") == "Ready");
        ClickAction(browser, "2001", "logout");
        browser.SwitchTo().Alert().Accept();
        Until(browser, ShownWithin, d => AgentState(d, "2001") == "LoggedOut");
        Assert.Equal("logout 2001: done", browser.FindElement(By.Id("action-result")).Text);
        var audited = await database.Database.ScalarAsync<string>(
            "SELECT string_agg(action || ' ' || outcome, ' | ' ORDER BY id) FROM audit_log WHERE id > " + auditBefore + " AND action LIKE 'POST /api/%agents/2001/%' AND action NOT LIKE '%/login'", Ct);
        Assert.Equal("POST /api/supervisor/agents/2001/pause 200 | POST /api/agents/2001/resume 200 | POST /api/supervisor/agents/2001/logout 200", audited);

        // A reporting key (a wall TV) sees the same board without buttons.
        browser.Navigate().GoToUrl($"{address}/wallboard/#key={reportingKey}");
        browser.Navigate().Refresh();
        Until(browser, TimeSpan.FromSeconds(15), d => d.FindElement(By.Id("status")).Text == "live" && CampaignCell(d, campaignId, "idle") == "1");
        Assert.Empty(browser.FindElements(By.CssSelector("#agents button[data-action]")));
        Assert.All(browser.FindElements(By.CssSelector("th.actions")), th => Assert.False(th.Displayed));
        Directory.Delete(journal, recursive: true);
    }

    /// <summary>
    /// Two Asterisk servers in one deployment (docs/sites.md): the wallboard's "Asterisk servers" table,
    /// the snapshot's <c>servers[]</c> and the <c>ctibridge_server_*</c> gauges keep each server's
    /// callers and agents apart, while the queue row adds both up. Agent 2001's phone is on pbx1,
    /// 2002's on pbx2; the queue keeps calls to the caller's server, so pbx2's caller waits while
    /// 2002 is paused and 2001 is talking to pbx1's caller.
    /// </summary>
    [Fact]
    public async Task Wallboard_ServersTableAndServerMetrics_KeepTwoServersFiguresApart()
    {
        var queue = new CallQueueSettings { Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(30), MusicOnHold = "default" };
        // pbx2 has its own systemname, as every server of a multi-server deployment must (check-asterisk's
        // system-name line): without one, two PbxSims started in the same second hand out the same
        // channel ids (epoch.sequence), as two such Asterisks would.
        await using var second = await PbxSimSettings.StartAsync(new PbxSim.PbxSimOptions
        {
            SystemName = "pbx2",
            Dialplan = new()
            {
                ["from-trunk"] = new() { ["_X."] = ["Stasis(ctibridge,inbound,${EXTEN})", "Hangup()"] },
                ["ctibridge-fallback"] = new() { ["_X."] = ["Wait(60)", "Hangup()"] },
            },
        });

        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001"), ("2002", "1002")], Ct,
            configure: c =>
            {
                c.Agents[0].Server = "pbx1";
                c.Agents[1].Server = "pbx2";
            },
            configureService: s => s.Asterisk.Add(PbxSimSettings.For(second, "pbx2")));
        await CallCenterRig.WaitForStasisAppAsync(second, Ct);
        Assert.Equal("pbx1", rig.Settings.Asterisk[0].Name);
        var wallboardKey = await HttpApi.KeyAsync(rig, ApiRole.Reporting, Ct);
        using var supervisor = await HttpApi.ClientAsync(rig, ApiRole.Supervisor, Ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
        second.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(100));

        (await supervisor.PostAsJsonAsync("/api/agents/2001/login", new { pin = CallCenterRig.Pin }, Ct)).EnsureSuccessStatusCode();
        (await supervisor.PostAsJsonAsync("/api/agents/2002/login", new { pin = CallCenterRig.Pin }, Ct)).EnsureSuccessStatusCode();
        (await supervisor.PostAsJsonAsync("/api/supervisor/agents/2002/pause", new { reason = "coaching" }, Ct)).EnsureSuccessStatusCode();

        // pbx2's caller waits (2001 is on the other server, 2002 paused); pbx1's caller reaches 2001.
        var waitingCaller = second.Trunk("carrier").CallIn("4008001", "5552002", "Caller On Two");
        var waiting = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5552002", "pbx2's caller queued", Ct);
        Assert.Equal("pbx2", waiting.Caller.Site);
        var talkingCaller = rig.Trunk.CallIn("4008001", "5551001", "Caller On One");
        await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.AgentId == "2001", "pbx1's caller answered by 2001", Ct);

        using var browser = StartBrowser();
        browser.Navigate().GoToUrl($"{HttpApi.Address(rig)}wallboard/#key={wallboardKey}");
        string[] columns = ["waiting", "offered", "answered", "ready", "oncall", "paused"];
        Until(browser, ShownWithin, d => d.FindElement(By.Id("status")).Text == "live" && Cell(d, "servers", "pbx2", "waiting") == "1" && Cell(d, "servers", "pbx1", "oncall") == "1");
        SaveScreenshot(browser, "wallboard-two-servers.png");
        Assert.Equal(["0", "1", "1", "0", "1", "0"], columns.Select(c => Cell(browser, "servers", "pbx1", c)));
        Assert.Equal(["1", "1", "0", "0", "0", "1"], columns.Select(c => Cell(browser, "servers", "pbx2", c)));
        // The queue row is both servers together.
        Assert.Equal(["1", "1", "1", "1"], new[] { "waiting", "answered", "oncall", "paused" }.Select(c => Cell(browser, "queues", "support", c)));

        // The same figures on /metrics, one series per server.
        var metrics = await supervisor.GetStringAsync("/metrics", Ct);
        foreach (var line in new[]
        {
            "ctibridge_server_waiting_calls{server=\"pbx1\"} 0", "ctibridge_server_waiting_calls{server=\"pbx2\"} 1",
            "ctibridge_server_agents{server=\"pbx1\",state=\"OnCall\"} 1", "ctibridge_server_agents{server=\"pbx2\",state=\"Paused\"} 1",
            "ctibridge_server_agents{server=\"pbx1\",state=\"Paused\"} 0", "ctibridge_server_agents{server=\"pbx2\",state=\"OnCall\"} 0",
            "ctibridge_server_queue_visits_today{server=\"pbx1\",event=\"offered\"} 1", "ctibridge_server_queue_visits_today{server=\"pbx2\",event=\"offered\"} 1",
            "ctibridge_server_queue_visits_today{server=\"pbx1\",event=\"answered\"} 1", "ctibridge_server_queue_visits_today{server=\"pbx2\",event=\"answered\"} 0",
            "ctibridge_queue_waiting_calls{queue=\"support\"} 1",
        })
        {
            Assert.Contains(line + "\n", metrics, StringComparison.Ordinal);
        }

        Assert.True(Gauge(metrics, "ctibridge_server_longest_wait_seconds{server=\"pbx2\"}") > 0, "pbx2's caller has been waiting");
        Assert.Equal(0, Gauge(metrics, "ctibridge_server_longest_wait_seconds{server=\"pbx1\"}"));

        // 2002 resumes and takes its server's caller; both hang up: each server answered its own call.
        (await supervisor.PostAsync("/api/agents/2002/resume", null, Ct)).EnsureSuccessStatusCode();
        await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.CallId == waiting.CallId && e.AgentId == "2002", "pbx2's caller answered by 2002", Ct);
        second.Trunk("carrier").HangUp(waitingCaller);
        rig.Trunk.HangUp(talkingCaller);
        Until(browser, ShownWithin, d => Cell(d, "servers", "pbx1", "wrapup") == "1" && Cell(d, "servers", "pbx2", "wrapup") == "1");
        Assert.Equal(["0", "1", "1", "100.0 %"], new[] { "waiting", "offered", "answered", "sl" }.Select(c => Cell(browser, "servers", "pbx1", c)));
        Assert.Equal(["0", "1", "1"], new[] { "waiting", "offered", "answered" }.Select(c => Cell(browser, "servers", "pbx2", c)));
        Assert.Equal(["0", "2", "2"], new[] { "waiting", "answered", "wrapup" }.Select(c => Cell(browser, "queues", "support", c)));
        metrics = await supervisor.GetStringAsync("/metrics", Ct);
        Assert.Contains("ctibridge_server_queue_visits_today{server=\"pbx2\",event=\"answered\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("ctibridge_server_agents{server=\"pbx2\",state=\"WrapUp\"} 1\n", metrics, StringComparison.Ordinal);
    }

    /// <summary>The value of one series in a Prometheus text exposition (the test fails when it is missing).</summary>
    private static double Gauge(string metrics, string series)
    {
        var line = metrics.Split('\n').SingleOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no series {series} on /metrics");
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void ClickAction(IWebDriver browser, string agentId, string action)
    {
        // Rows are redrawn on every snapshot: find the button again if it went stale between find and click.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                browser.FindElement(By.CssSelector($"#agents tr[data-agent='{agentId}'] button[data-action='{action}']")).Click();
                return;
            }
            catch (Exception ex) when (ex is StaleElementReferenceException or NoSuchElementException && attempt < 100)
            {
                Thread.Sleep(20);
            }
        }
    }

    private static string CampaignCell(IWebDriver browser, string campaignId, string cellClass)
    {
        var selector = "td." + cellClass;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return browser.FindElement(By.CssSelector($"#campaigns tr[data-campaign='{campaignId}'] {selector}")).Text;
            }
            catch (StaleElementReferenceException) when (attempt < 50)
            {
            }
        }
    }

    private static ChromeDriver StartBrowser()
    {
        const string chromium = "/usr/bin/chromium";
        const string driver = "/usr/bin/chromedriver";
        if (!File.Exists(chromium) || !File.Exists(driver))
        {
            throw new InvalidOperationException($"{chromium} and {driver} are needed: scripts/test.sh installs them (apt-get install chromium chromium-driver).");
        }

        var options = new ChromeOptions { BinaryLocation = chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900", "--no-first-run", "--disable-extensions");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver)!, Path.GetFileName(driver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    /// <summary>Waits (polling every 20 ms, at most <paramref name="within"/>) until the page shows it; returns how long that took.</summary>
    private static TimeSpan Until(IWebDriver browser, TimeSpan within, Func<IWebDriver, bool> shown)
    {
        var clock = Stopwatch.StartNew();
        var wait = new WebDriverWait(new SystemClock(), browser, within, TimeSpan.FromMilliseconds(20));
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            wait.Until(shown);
        }
        catch (WebDriverTimeoutException)
        {
            SaveScreenshot(browser, "wallboard-failed.png");
            throw new Xunit.Sdk.XunitException($"The wallboard did not show the change within {within.TotalSeconds} s. Page: {browser.FindElement(By.TagName("body")).Text}");
        }

        return clock.Elapsed;
    }

    private static string AgentState(IWebDriver browser, string agentId) => Cell(browser, "agents", agentId, "state");

    private static string Cell(IWebDriver browser, string table, string key, string cellClass)
    {
        var attribute = table switch { "agents" => "data-agent", "servers" => "data-server", _ => "data-queue" };
        // The page redraws its rows on every update: a row found a moment ago may be gone; read again.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return browser.FindElement(By.CssSelector($"#{table} tr[{attribute}='{key}'] td.{cellClass}")).Text;
            }
            catch (StaleElementReferenceException) when (attempt < 50)
            {
            }
        }
    }

    private static void SaveScreenshot(IWebDriver browser, string name = "wallboard.png")
    {
        var folder = Environment.GetEnvironmentVariable("CTIBRIDGE_TEST_ARTIFACTS") is { Length: > 0 } configured ? configured : Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name);
        ((ITakesScreenshot)browser).GetScreenshot().SaveAsFile(path);
        TestContext.Current.SendDiagnosticMessage($"Wallboard screenshot: {path}");
    }
}
