using System.Diagnostics;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Packaging;

/// <summary>packaging/ctibridge.service passes systemd-analyze verify; scripts/install.sh publishes a runnable service into a staging root.</summary>
public sealed class PackagingTests
{
    private static readonly string Unit = Path.Combine(RepositoryPaths.Root, "packaging", "ctibridge.service");

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string file, IEnumerable<string> args, TimeSpan limit, CancellationToken ct)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var error = process.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {limit.TotalSeconds} s");
        }

        return (process.ExitCode, await output, await error);
    }

    private static string? OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>The dotnet executable running this test (what install.sh would find on PATH here).</summary>
    private static string Dotnet => Environment.ProcessPath is { } p && Path.GetFileName(p) == "dotnet" ? p : OnPath("dotnet") ?? "/usr/share/dotnet/dotnet";

    [Fact]
    public void Unit_RunsAsItsOwnUserWithHardeningAndRestartsOnFailure()
    {
        var lines = File.ReadAllLines(Unit).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();

        foreach (var expected in new[]
        {
            "Type=notify", "User=ctibridge", "Group=ctibridge", "Restart=on-failure", "RestartPreventExitStatus=2 3",
            "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
            "CapabilityBoundingSet=", "StateDirectory=ctibridge", "LogsDirectory=ctibridge",
            "ExecStart=/usr/share/dotnet/dotnet /opt/ctibridge/ctibridge.dll run --config /etc/ctibridge/ctibridge.json",
        })
        {
            Assert.Contains(expected, lines);
        }
    }

    [Fact]
    public async Task Unit_SystemdAnalyzeVerify_ReportsNothing()
    {
        var analyze = OnPath("systemd-analyze");
        Assert.SkipWhen(analyze is null, "systemd-analyze is not installed here");
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("ctibridge-unit-");
        try
        {
            // verify checks that ExecStart's program exists: point it at this machine's dotnet, as install.sh does.
            var unit = Path.Combine(folder.FullName, "ctibridge.service");
            await File.WriteAllTextAsync(unit, (await File.ReadAllTextAsync(Unit, ct)).Replace("ExecStart=/usr/share/dotnet/dotnet ", $"ExecStart={Dotnet} ", StringComparison.Ordinal), ct);
            var broken = Path.Combine(folder.FullName, "broken.service");
            await File.WriteAllTextAsync(broken, (await File.ReadAllTextAsync(unit, ct)).Replace("NoNewPrivileges=yes", "NoNewPrivilege=yes", StringComparison.Ordinal), ct);

            var good = await RunAsync(analyze!, ["verify", unit], TimeSpan.FromSeconds(60), ct);
            var bad = await RunAsync(analyze!, ["verify", broken], TimeSpan.FromSeconds(60), ct);

            Assert.True(good.Exit == 0 && good.Error.Length == 0 && good.Output.Length == 0, $"systemd-analyze verify (exit {good.Exit}):\n{good.Output}{good.Error}");
            // The same check does catch a misspelt setting (systemd only warns about it, so the test reads the output).
            Assert.Contains("Unknown key 'NoNewPrivilege'", bad.Error, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task InstallScript_StagedRoot_PublishesARunnableServiceAndKeepsAnEditedConfigOnUpgrade()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = Directory.CreateTempSubdirectory("ctibridge-install-");
        try
        {
            var script = Path.Combine(RepositoryPaths.Root, "scripts", "install.sh");

            // scripts/test.sh builds Release first: publish that build as it is (the compile is not what is tested here).
            string[] args = File.Exists(Path.Combine(RepositoryPaths.Root, "src", "CtiBridge.Service", "bin", "Release", "net10.0", "ctibridge.dll"))
                ? [script, "--root", root.FullName, "--no-build"]
                : [script, "--root", root.FullName];
            var first = await RunAsync("bash", args, TimeSpan.FromMinutes(10), ct);
            Assert.True(first.Exit == 0, $"install.sh exited {first.Exit}:\n{first.Output}{first.Error}");

            var opt = Path.Combine(root.FullName, "opt", "ctibridge");
            var config = Path.Combine(root.FullName, "etc", "ctibridge", "ctibridge.json");
            var env = Path.Combine(root.FullName, "etc", "ctibridge", "ctibridge.env");
            Assert.True(File.Exists(Path.Combine(opt, "ctibridge.dll")));
            Assert.True(File.Exists(Path.Combine(opt, "docs", "admin-guide.md")));
            Assert.True(File.Exists(Path.Combine(opt, "asterisk-config", "extensions.conf")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(config));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(env));
            var unit = await File.ReadAllTextAsync(Path.Combine(root.FullName, "etc", "systemd", "system", "ctibridge.service"), ct);
            var dotnetOnPath = OnPath("dotnet") ?? Dotnet;
            var resolved = new FileInfo(dotnetOnPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? dotnetOnPath;
            Assert.Contains($"ExecStart={resolved} /opt/ctibridge/ctibridge.dll run", unit, StringComparison.Ordinal);

            // The published service runs: its command line lists the operator commands.
            var help = await RunAsync(Dotnet, [Path.Combine(opt, "ctibridge.dll"), "--help"], TimeSpan.FromSeconds(60), ct);
            Assert.Equal(0, help.Exit);
            Assert.Contains("check-asterisk", help.Output, StringComparison.Ordinal);
            Assert.Contains("import", help.Output, StringComparison.Ordinal);

            // An upgrade replaces the program but never the admin's configuration.
            await File.AppendAllTextAsync(config, "\n// edited by the admin\n", ct);
            File.WriteAllText(Path.Combine(opt, "stale.dll"), "left by an older version");
            var second = await RunAsync("bash", [.. args[..3], "--no-build"], TimeSpan.FromMinutes(10), ct);
            Assert.True(second.Exit == 0, $"second install.sh exited {second.Exit}:\n{second.Output}{second.Error}");
            Assert.EndsWith("// edited by the admin\n", await File.ReadAllTextAsync(config, ct), StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(opt, "stale.dll")));
            Assert.Contains("kept the existing", second.Output, StringComparison.Ordinal);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
