using CtiBridge.Service.Configuration;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace CtiBridge.Service.Hosting;

/// <summary>Serilog: console always, a daily rolling file when configured, text or JSON.</summary>
public static class LoggingExtensions
{
    /// <summary>Replaces the default logging with Serilog configured from <paramref name="settings"/>.</summary>
    public static WebApplicationBuilder AddCtiBridgeLogging(this WebApplicationBuilder builder, LogSettings settings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        var level = Enum.Parse<LogEventLevel>(settings.Level, ignoreCase: true);
        // Each host keeps its own logger (preserveStaticLogger): with the static Log.Logger, a second host in
        // the same process (tests, an embedding application) took over the first one's log lines.
        builder.Services.AddSerilog(preserveStaticLogger: true, configureLogger: configuration =>
        {
            configuration.MinimumLevel.Is(level)
                .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
                .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
                .Enrich.FromLogContext();
            if (settings.Json)
            {
                configuration.WriteTo.Console(new CompactJsonFormatter());
            }
            else
            {
                configuration.WriteTo.Console(formatProvider: System.Globalization.CultureInfo.InvariantCulture);
            }

            if (!string.IsNullOrWhiteSpace(settings.File))
            {
                if (settings.Json)
                {
                    configuration.WriteTo.File(new CompactJsonFormatter(), settings.File, rollingInterval: RollingInterval.Day, retainedFileCountLimit: 31);
                }
                else
                {
                    configuration.WriteTo.File(settings.File, rollingInterval: RollingInterval.Day, retainedFileCountLimit: 31, formatProvider: System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        });
        return builder;
    }
}
