using System.Globalization;

namespace CtiBridge.PbxSim.Ami;

/// <summary>The <c>Command</c> action: the few CLI commands PbxSim can answer, in Asterisk's words.</summary>
internal sealed partial class AmiActions
{
    // First words of CLI commands the recording instance knew; an unknown command's help hint
    // lists the words up to and including the first one that matched nothing (Asterisk's find_best).
    private static readonly string[][] KnownCommands =
    [
        ["core", "show", "version"], ["core", "show", "channels"], ["core", "show", "uptime"], ["core", "show", "help"],
        ["queue", "show"], ["module", "show"], ["dialplan", "show"], ["manager", "show"], ["ari", "show"],
        ["no", "debug"], ["devstate", "change"],
    ];

    private void Command(AmiSession session, AmiMessage action, string? actionId)
    {
        var command = (action["Command"] ?? string.Empty).Trim();
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var output = RunCli(words);
        var response = output is null
            ? new AmiMessage().Add("Response", "Error").AddIfPresent("ActionID", actionId).Add("Message", "Command output follows")
                .Add("Output", $"No such command '{command}' (type 'core show help {BestHelpPrefix(words)}' for other possible commands)")
            : Success(actionId, "Command output follows");
        foreach (var line in output ?? [])
        {
            response.Add("Output", line);
        }

        session.Send(response);
    }

    private static string BestHelpPrefix(string[] words)
    {
        var matched = new List<string>();
        foreach (var word in words)
        {
            matched.Add(word);
            var depth = matched.Count;
            var any = KnownCommands.Any(c => c.Length >= depth && c.Take(depth).SequenceEqual(matched, StringComparer.OrdinalIgnoreCase));
            if (!any)
            {
                break;
            }
        }

        return string.Join(' ', matched);
    }

    private List<string>? RunCli(string[] words)
    {
        var text = string.Join(' ', words).ToLowerInvariant();
        var now = _sim.Time.GetUtcNow();
        switch (text)
        {
            case "core show version":
                return [$"Asterisk {PbxSimulator.AsteriskVersion} built by root @ vm on a x86_64 running Linux on 2026-11-22 16:20:42 UTC"];
            case "core show uptime seconds":
                return
                [
                    AmiServer.Invariant($"System uptime: {(long)(now - _sim.StartedAt).TotalSeconds}"),
                    AmiServer.Invariant($"Last reload: {(long)(now - _sim.LastReloadAt).TotalSeconds}"),
                ];
            case "core show uptime":
                return ["System uptime: " + Duration(now - _sim.StartedAt), "Last reload: " + Duration(now - _sim.LastReloadAt)];
            case "core show channels":
                lock (_sim.Gate)
                {
                    return _sim.Model.ShowChannels(concise: false);
                }

            case "core show channels concise":
                lock (_sim.Gate)
                {
                    return _sim.Model.ShowChannels(concise: true);
                }

            case "queue show":
                lock (_sim.Gate)
                {
                    return _sim.Model.ShowQueues(null);
                }

            default:
                if (words.Length == 3 && text.StartsWith("queue show ", StringComparison.Ordinal))
                {
                    lock (_sim.Gate)
                    {
                        var lines = _sim.Model.ShowQueues(words[2]);
                        return lines.Count > 0 ? lines : [$"No such queue: {words[2]}."];
                    }
                }

                if (words.Length == 4 && words[0].Equals("devstate", StringComparison.OrdinalIgnoreCase) && words[1].Equals("change", StringComparison.OrdinalIgnoreCase)
                    && words[2].StartsWith("Custom:", StringComparison.OrdinalIgnoreCase))
                {
                    lock (_sim.Gate)
                    {
                        _sim.Model.ChangeCustomDeviceState(words[2], words[3].ToUpperInvariant());
                        _sim.Model.Settle();
                    }

                    return [$"Changing {words[2][7..]} to {words[3].ToUpperInvariant()}"];
                }

                return null;
        }
    }

    /// <summary>Asterisk's long uptime form, e.g. <c>1 hour, 2 minutes, 5 seconds</c>.</summary>
    private static string Duration(TimeSpan span)
    {
        var parts = new List<string>();
        void Part(long value, string unit)
        {
            if (value > 0)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"{value} {unit}{(value == 1 ? "" : "s")}"));
            }
        }

        var total = (long)span.TotalSeconds;
        Part(total / 86400 / 7, "week");
        Part(total / 86400 % 7, "day");
        Part(total / 3600 % 24, "hour");
        Part(total / 60 % 60, "minute");
        Part(total % 60, "second");
        return parts.Count == 0 ? "0 seconds" : string.Join(", ", parts);
    }
}
