using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>Settings written as a ctibridge.json file (camelCase, nulls left out) and edited like an admin would.</summary>
internal static class ConfigurationFile
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        IgnoreReadOnlyProperties = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public static string Json(CtiBridgeSettings settings) => JsonSerializer.Serialize(settings, Options);

    /// <summary>
    /// Reads the file, lets <paramref name="edit"/> change it, writes it back whole: written beside it
    /// and renamed over it, so the watcher's periodic check can never read it half written (an
    /// in-place write is truncated first, and a check landing then reads an empty file).
    /// </summary>
    public static async Task EditAsync(string path, Action<JsonNode> edit, CancellationToken ct)
    {
        var root = JsonNode.Parse(await File.ReadAllTextAsync(path, ct))!;
        edit(root);
        var next = path + ".next";
        await File.WriteAllTextAsync(next, root.ToJsonString(Options), ct);
        File.Move(next, path, overwrite: true);
    }

    /// <summary>Waits (bounded) for the next reload attempt to finish after <paramref name="cause"/> and returns its outcome.</summary>
    public static async Task<ConfigurationReloadResult> NextReloadAsync(ConfigurationReload reload, Func<Task> cause, CancellationToken ct)
    {
        var done = new TaskCompletionSource<ConfigurationReloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnCompleted(ConfigurationReloadResult r) => done.TrySetResult(r);
        reload.Completed += OnCompleted;
        try
        {
            await cause();
            return await done.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        }
        finally
        {
            reload.Completed -= OnCompleted;
        }
    }
}
