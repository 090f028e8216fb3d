using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace CtiBridge.TestSupport;

/// <summary>
/// A real <c>ctibridge run --config</c> process started from the test's build output (the test
/// project references the service, so <c>ctibridge.dll</c> is next to it), for tests that need what
/// only a process gives: SIGKILL, SIGTERM, a PostgreSQL session that ends with the socket. Its output
/// is kept for failure messages; disposing kills it if it still runs, so no test leaves one behind.
/// </summary>
/// <remarks>
/// Give it <c>http.urls = http://127.0.0.1:0</c> and port 0: the process binds a free port itself and
/// its HTTP client is aimed at the port it logs (<c>Now listening on: …</c>). A port picked by the test
/// and bound later by the child could be taken by another test in between ("address already in use").
/// </remarks>
public sealed partial class ServiceProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly bool _listens;
    private readonly TimeSpan _bound;
    private HttpClient? _http;

    private ServiceProcess(string name, Process process, int? port, TimeSpan bound)
    {
        Name = name;
        _process = process;
        _bound = bound;
        _listens = port is not null;
        _http = port is { } p and not 0 ? Client(p) : null;
    }

    /// <summary>The name the test gave it (in failure messages).</summary>
    public string Name { get; }

    /// <summary>Everything it wrote to stdout and stderr so far, headed by its name and exit state.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return $"--- {Name} (exit {(_process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "running")}):\n{_output}";
            }
        }
    }

    /// <summary>
    /// The service to run: <c>ctibridge.dll</c> from the test's build output, or the one
    /// <c>CTIBRIDGE_SERVICE_DLL</c> names (<c>scripts/measure-takeover.sh</c> points it at a ReadyToRun publish, as
    /// <c>scripts/install.sh --ready-to-run</c> deploys it).
    /// </summary>
    public static string ServiceDll =>
        Environment.GetEnvironmentVariable("CTIBRIDGE_SERVICE_DLL") is { Length: > 0 } dll ? dll : Path.Combine(AppContext.BaseDirectory, "ctibridge.dll");

    /// <summary>Starts <c>dotnet ctibridge.dll run --config <paramref name="configPath"/></c> (<see cref="ServiceDll"/>).</summary>
    /// <param name="name">Its name in failure messages.</param>
    /// <param name="configPath">The configuration file.</param>
    /// <param name="port">The loopback port of its <c>http.urls</c>, for <see cref="Http"/> and the health waits; 0 when it binds
    /// <c>http://127.0.0.1:0</c> and the port is read from its log; null when the test does not talk to it.</param>
    /// <param name="bound">The longest any wait on it may take (health, stop).</param>
    public static ServiceProcess Start(string name, string configPath, int? port = null, TimeSpan? bound = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { ServiceDll, "run", "--config", configPath })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var service = new ServiceProcess(name, process, port, bound ?? TimeSpan.FromSeconds(60));
        process.OutputDataReceived += (_, e) => service.Append(e.Data);
        process.ErrorDataReceived += (_, e) => service.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return service;
    }

    /// <summary>Its HTTP API, authenticated with <paramref name="token"/> (a bearer API key).</summary>
    public HttpClient Http(string token)
    {
        var http = Volatile.Read(ref _http) ?? throw new InvalidOperationException(_listens ? $"{Name} has not said its port yet (wait for it to be live first)" : $"{Name} was started without a port");
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>Whether <c>/health/ready</c> answers 200 now.</summary>
    public async Task<bool> IsReadyAsync(CancellationToken ct) => await StatusAsync("/health/ready", ct) == HttpStatusCode.OK;

    /// <summary>Waits (bounded) until <c>/health/ready</c> answers 200.</summary>
    public Task WaitReadyAsync(CancellationToken ct) => WaitAsync("/health/ready", ct);

    /// <summary>Waits (bounded) until <c>/health/live</c> answers 200.</summary>
    public Task WaitLiveAsync(CancellationToken ct) => WaitAsync("/health/live", ct);

    /// <summary>SIGKILL: no stop, no release, no last write; its sockets (PostgreSQL, Asterisk) close with the process.</summary>
    public void KillHard()
    {
        _process.Kill();
        if (!_process.WaitForExit(10_000))
        {
            throw new InvalidOperationException($"{Name} did not die after SIGKILL");
        }
    }

    /// <summary>SIGTERM, as systemd stops the service: it stops gracefully and writes its records before it exits.</summary>
    public async Task StopAsync(CancellationToken ct)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]) ?? throw new InvalidOperationException("kill did not start"))
        {
            await kill.WaitForExitAsync(ct);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_bound);
        await _process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>Whether it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Waits (bounded) until it exits by itself and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_bound);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"{Name} still runs after {_bound.TotalSeconds} s: {Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>Kills it (and anything it started) if it still runs.</summary>
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
        _http?.Dispose();
    }

    /// <summary>Its HTTP port, once known.</summary>
    public int? Port => Volatile.Read(ref _http)?.BaseAddress?.Port;

    private static HttpClient Client(int port) => new() { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };

    private async Task<HttpStatusCode?> StatusAsync(string path, CancellationToken ct)
    {
        if (!_listens)
        {
            throw new InvalidOperationException($"{Name} was started without a port");
        }

        if (Volatile.Read(ref _http) is not { } http)
        {
            return null; // has not bound its port yet
        }

        try
        {
            using var response = await http.GetAsync(path, ct);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null; // not listening yet
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            return null; // too slow to answer (still starting)
        }
    }

    private async Task WaitAsync(string path, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + _bound;
        while (await StatusAsync(path, ct) != HttpStatusCode.OK)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited while waiting for {path}: {Output}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name}: {path} not 200 after {_bound.TotalSeconds} s: {Output}");
            }

            await Task.Delay(100, ct);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        // Kestrel's "Now listening on: http://127.0.0.1:40321" (Serilog may quote the address; in JSON logs, logging.json,
    // the address is the template's property: "@mt":"Now listening on: {address}","address":"http://127.0.0.1:40321").
        if (_listens && Volatile.Read(ref _http) is null && ListeningOn().Match(line) is { Success: true } match)
        {
            Volatile.Write(ref _http, Client(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)));
        }
    }

    [GeneratedRegex(@"Now listening on: (?:""?|\{address\}"".*""address"":"")http://127\.0\.0\.1:(\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex ListeningOn();
}
