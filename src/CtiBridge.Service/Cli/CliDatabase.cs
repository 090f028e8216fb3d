using System.CommandLine;
using CtiBridge.Service.Configuration;
using Npgsql;

namespace CtiBridge.Service.Cli;

/// <summary>
/// How a command finds the database: <c>--connection</c>, else the <c>CTIBRIDGE_DATABASE</c>
/// environment variable, else the <c>database</c> section of <c>--config</c> (with its password).
/// </summary>
public sealed class CliDatabase
{
    /// <summary>Environment variable read when <c>--connection</c> is not given (keeps the password out of <c>ps</c>).</summary>
    public const string ConnectionEnvironmentVariable = "CTIBRIDGE_DATABASE";

    private CliDatabase(Option<string?> connection, Option<string?> config)
    {
        Connection = connection;
        Config = config;
    }

    /// <summary>The <c>--connection</c> option.</summary>
    public Option<string?> Connection { get; }

    /// <summary>The <c>--config</c> option.</summary>
    public Option<string?> Config { get; }

    /// <summary>Creates both options and adds them to <paramref name="command"/>.</summary>
    public static CliDatabase AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var options = new CliDatabase(
            new Option<string?>("--connection", "-c") { Description = $"Npgsql connection string (default: the {ConnectionEnvironmentVariable} environment variable, else --config)." },
            new Option<string?>("--config", "-f") { Description = "Read the database settings from this ctibridge.json." });
        command.Options.Add(options.Connection);
        command.Options.Add(options.Config);
        return options;
    }

    /// <summary>
    /// Opens a data source, or writes why it cannot to <paramref name="error"/> and returns null
    /// (the command then exits with code 2).
    /// </summary>
    public NpgsqlDataSource? Open(ParseResult parse, TextWriter error, string commandName)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(error);
        var connectionString = parse.GetValue(Connection) ?? Environment.GetEnvironmentVariable(ConnectionEnvironmentVariable);
        string? password = null;
        if (string.IsNullOrWhiteSpace(connectionString) && parse.GetValue(Config) is { } configPath)
        {
            try
            {
                var settings = SettingsLoader.Load(configPath);
                connectionString = settings.Database.ConnectionString;
                password = settings.Database.Password;
            }
            catch (SettingsException ex)
            {
                error.WriteLine($"{commandName}: {configPath} cannot be used:");
                foreach (var problem in ex.Problems)
                {
                    error.WriteLine("  " + problem);
                }

                return null;
            }
        }

        if (string.IsNullOrWhiteSpace(connectionString))
        {
            error.WriteLine($"{commandName}: no database given; pass --connection \"Host=...;Database=...;Username=...\", set {ConnectionEnvironmentVariable}, or pass --config /etc/ctibridge/ctibridge.json.");
            return null;
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = $"ctibridge {commandName}" };
            if (!string.IsNullOrEmpty(password))
            {
                builder.Password = password;
            }

            return NpgsqlDataSource.Create(builder.ConnectionString);
        }
        catch (ArgumentException ex)
        {
            error.WriteLine($"{commandName}: the connection string is not valid: {ex.Message}");
            return null;
        }
    }
}
