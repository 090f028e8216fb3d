using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CtiBridge.Data.Schema;
using Npgsql;

namespace CtiBridge.TestSupport;

/// <summary>
/// A PostgreSQL server of one test's own (initdb in a temporary folder, <c>pg_ctl</c> on a free
/// loopback port), so a fault test can stop and start it as a server, which the shared cluster
/// cannot do to everyone else. Every step is bounded in time; disposing stops it and deletes it.
/// Needs the PostgreSQL server binaries scripts/test.sh installs (<c>/usr/lib/postgresql/*/bin</c>,
/// or <c>CTIBRIDGE_PG_BIN</c>); as root it runs them as the <c>postgres</c> user, as PostgreSQL requires.
/// </summary>
public sealed class PrivatePostgresServer : IAsyncDisposable
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);
    private readonly string _bin;
    private readonly string _directory;

    private PrivatePostgresServer(string bin, string directory, int port)
    {
        _bin = bin;
        _directory = directory;
        Port = port;
    }

    /// <summary>The server's TCP port on 127.0.0.1 (the same after a restart).</summary>
    public int Port { get; }

    /// <summary>Connection string of the <c>postgres</c> superuser database.</summary>
    public string AdminConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Database = "postgres",
        IncludeErrorDetail = true,
    }.ConnectionString;

    private string DataDirectory => Path.Combine(_directory, "data");

    /// <summary>Creates the cluster and starts it.</summary>
    public static async Task<PrivatePostgresServer> StartAsync(CancellationToken cancellationToken)
    {
        var bin = FindBinaries();
        var directory = Directory.CreateTempSubdirectory("ctibridge-private-pg-").FullName;
        var server = new PrivatePostgresServer(bin, directory, FreePort());
        try
        {
            if (IsRoot)
            {
                await RunAsync("chown", ["-R", "postgres:postgres", directory], asOwner: false, cancellationToken).ConfigureAwait(false);
            }

            await server.RunPgAsync("initdb", ["-D", server.DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"], cancellationToken).ConfigureAwait(false);
            await server.StartAgainAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts the stopped server again on the same port and data.</summary>
    public Task StartAgainAsync(CancellationToken cancellationToken) =>
        RunPgAsync("pg_ctl", ["-D", DataDirectory, "-l", Path.Combine(_directory, "postgres.log"), "-w", "-t", "60", "start",
            "-o", string.Create(CultureInfo.InvariantCulture, $"-c listen_addresses=127.0.0.1 -p {Port} -k {_directory} -c max_connections=100 -c shared_buffers=16MB")], cancellationToken);

    /// <summary>
    /// Stops the server: <c>fast</c> (clients are disconnected, a clean shutdown) or <c>immediate</c>
    /// (every process quits at once, as after a crash; the next start recovers from the WAL).
    /// </summary>
    public Task StopAsync(string mode, CancellationToken cancellationToken) =>
        RunPgAsync("pg_ctl", ["-D", DataDirectory, "-w", "-t", "60", "stop", "-m", mode], cancellationToken);

    /// <summary>Whether the server accepts connections now.</summary>
    public async Task<bool> AcceptsConnectionsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(AdminConnectionString) { Pooling = false, Timeout = 2 }.ConnectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    /// <summary>Creates a database on this server with the product's migrated schema.</summary>
    public async Task<TestDatabase> CreateMigratedDatabaseAsync(CancellationToken cancellationToken)
    {
        var name = $"test_{Guid.NewGuid():N}";
        await PostgresServer.AdminExecuteAsync($"CREATE DATABASE \"{name}\"", cancellationToken, AdminConnectionString).ConfigureAwait(false);
        var connectionString = new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
        await using (var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString))
        {
            await new SchemaMigrator(dataSource, MigrationCatalog.Embedded).MigrateAsync(cancellationToken).ConfigureAwait(false);
        }

        return new TestDatabase(name, connectionString, AdminConnectionString);
    }

    /// <summary>Stops the server at once (if it runs) and deletes its files.</summary>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            try
            {
                await StopAsync("immediate", CancellationToken.None).ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                // Already stopped, or it never started: the files go anyway.
            }
        }

        Directory.Delete(_directory, recursive: true);
    }

    private Task RunPgAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        RunAsync(Path.Combine(_bin, tool), arguments, asOwner: IsRoot, cancellationToken);

    private static bool IsRoot => Environment.UserName == "root";

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, bool asOwner, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(asOwner ? "runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asOwner)
        {
            foreach (var prefix in new[] { "-u", "postgres", "--", program })
            {
                start.ArgumentList.Add(prefix);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StepTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', arguments)} did not finish within {StepTimeout.TotalSeconds} s.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{Path.GetFileName(program)} {string.Join(' ', arguments)} failed (exit {process.ExitCode}): {await errors.ConfigureAwait(false)} {await output.ConfigureAwait(false)}".Trim());
        }
    }

    private static string FindBinaries()
    {
        if (Environment.GetEnvironmentVariable("CTIBRIDGE_PG_BIN") is { Length: > 0 } configured)
        {
            return configured;
        }

        var found = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
                .OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            : null;
        return found ?? throw new InvalidOperationException(
            "The PostgreSQL server binaries (initdb, pg_ctl) were not found under /usr/lib/postgresql/*/bin: run scripts/pg.sh start once (it installs them), or set CTIBRIDGE_PG_BIN.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
