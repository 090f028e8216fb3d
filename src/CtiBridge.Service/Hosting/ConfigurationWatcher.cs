using System.Threading.Channels;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Hosting;

/// <summary>
/// Watches the configuration file and applies it when its content changes (docs/service.md, live
/// reload). A file system notification triggers a check after a short pause (editors write in
/// several steps); a check every few seconds catches what notifications miss (network file
/// systems, a file replaced by a rename). A file with problems is rejected and logged, one line
/// per problem; the running configuration stays until a good file is saved.
/// </summary>
internal sealed partial class ConfigurationWatcher(ConfigurationReload reload, TimeProvider timeProvider, ILogger<ConfigurationWatcher> logger) : BackgroundService
{
    /// <summary>Pause after a notification before reading, so a file being saved is read whole.</summary>
    internal static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(300);

    /// <summary>How often the file is checked without a notification.</summary>
    internal static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (reload.FilePath is not { } path)
        {
            return;
        }

        var signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        using var watcher = CreateWatcher(path, signal.Writer);
        LogWatching(logger, path);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var poll = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                poll.CancelAfter(PollInterval);
                try
                {
                    await signal.Reader.ReadAsync(poll.Token).ConfigureAwait(false);
                    await Task.Delay(Settle, timeProvider, stoppingToken).ConfigureAwait(false);
                    signal.Reader.TryRead(out _); // notifications during the pause belong to this check
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // The poll interval passed without a notification: check anyway.
                }

                await reload.ReloadFileIfChangedAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogReadFailed(logger, path, ex.Message);
            }
        }
    }

    private FileSystemWatcher? CreateWatcher(string path, ChannelWriter<bool> signal)
    {
        try
        {
            var full = Path.GetFullPath(path);
            var watcher = new FileSystemWatcher(Path.GetDirectoryName(full)!, Path.GetFileName(full))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            watcher.Changed += (_, _) => signal.TryWrite(true);
            watcher.Created += (_, _) => signal.TryWrite(true);
            watcher.Renamed += (_, _) => signal.TryWrite(true);
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or PlatformNotSupportedException or UnauthorizedAccessException)
        {
            // Out of inotify watches, say: the periodic check still sees every change, only later.
            LogNoNotifications(logger, path, ex.Message);
            return null;
        }
    }

    [LoggerMessage(EventId = 1106, Level = LogLevel.Information, Message = "Watching {Path} for configuration changes")]
    private static partial void LogWatching(ILogger logger, string path);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "Cannot watch {Path} for changes ({Reason}); it is checked every few seconds instead")]
    private static partial void LogNoNotifications(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Warning, Message = "Cannot read {Path} to check it for changes: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, string path, string reason);
}
