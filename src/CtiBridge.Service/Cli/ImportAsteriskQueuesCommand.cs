using System.CommandLine;
using System.Text;
using System.Text.Json;
using CtiBridge.Service.AsteriskSetup;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge import asterisk-queues queues.conf [--agents agents.conf] [--output file]</c>: migrates an app_queue site.</summary>
public static class ImportAsteriskQueuesCommand
{
    /// <summary>Creates the <c>asterisk-queues</c> sub-command of <c>import</c>.</summary>
    public static Command Create()
    {
        var queuesConf = new Argument<string>("queues.conf") { Description = "Asterisk's queues.conf (app_queue), e.g. /etc/asterisk/queues.conf." };
        var agentsConf = new Option<string?>("--agents") { Description = "app_agent_pool's agents.conf, for the names of Agent/ members." };
        var output = new Option<string?>("--output", "-o") { Description = "Write the JSON here instead of standard output." };
        var queues = new Command("asterisk-queues", "Turn app_queue queues and static members into callControl queues and agents (JSON); every setting that is not carried over is listed on standard error with its file, line and reason.")
        {
            queuesConf, agentsConf, output,
        };
        queues.SetAction((parse, ct) => RunAsync(parse.GetValue(queuesConf)!, parse.GetValue(agentsConf), parse.GetValue(output), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return queues;
    }

    /// <summary>Exit 0: imported (notes may list what was not carried over); 1: some lines are wrong; 2: a file cannot be read.</summary>
    internal static async Task<int> RunAsync(string queuesPath, string? agentsPath, string? outputPath, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        AppQueueImportResult result;
        try
        {
            result = AppQueueImport.Import(AsteriskConfigFile.Load(queuesPath), agentsPath is null ? null : AsteriskConfigFile.Load(agentsPath));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            await error.WriteLineAsync($"import asterisk-queues: {ex.Message}").ConfigureAwait(false);
            return 2;
        }

        var json = ToJson(result);
        if (outputPath is null)
        {
            await output.WriteAsync(json).ConfigureAwait(false);
        }
        else
        {
            await File.WriteAllTextAsync(outputPath, json, cancellationToken).ConfigureAwait(false);
        }

        foreach (var note in result.Notes)
        {
            await error.WriteLineAsync(note.ToString()).ConfigureAwait(false);
        }

        var errors = result.Notes.Count(n => n.Kind == ImportNoteKind.Error);
        await error.WriteLineAsync(
            $"import asterisk-queues: {result.Queues.Count} queue(s) and {result.Agents.Count} agent(s) imported; " +
            $"{result.Notes.Count(n => n.Kind == ImportNoteKind.NotCarriedOver)} setting(s) not carried over, " +
            $"{result.Notes.Count(n => n.Kind == ImportNoteKind.Changed)} carried over differently, {errors} error(s). " +
            "Paste the callControl section into ctibridge.json, add the agents' pinHash and the dids, then run ctibridge check-config.").ConfigureAwait(false);
        return errors > 0 ? 1 : 0;
    }

    /// <summary>The result as a ctibridge.json fragment: <c>{ "callControl": { "queues": [...], "agents": [...] } }</c>.</summary>
    public static string ToJson(AppQueueImportResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartObject("callControl");
            json.WriteStartArray("queues");
            foreach (var q in result.Queues)
            {
                json.WriteStartObject();
                json.WriteString("name", q.Name);
                json.WriteString("strategy", q.Strategy);
                json.WriteString("ringTimeout", q.RingTimeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture));
                json.WriteString("retryAfterNoAnswer", q.RetryAfterNoAnswer.ToString("c", System.Globalization.CultureInfo.InvariantCulture));
                json.WriteString("wrapUp", q.WrapUp.ToString("c", System.Globalization.CultureInfo.InvariantCulture));
                json.WriteString("musicOnHold", q.MusicOnHold);
                if (q.MaxWaiting != 0)
                {
                    json.WriteNumber("maxWaiting", q.MaxWaiting);
                }

                if (q.Weight != 1)
                {
                    json.WriteNumber("weight", q.Weight);
                }

                if (q.RefuseJoinWhen is not null)
                {
                    json.WriteString("refuseJoinWhen", q.RefuseJoinWhen);
                }

                if (q.LeaveWhen is not null)
                {
                    json.WriteString("leaveWhen", q.LeaveWhen);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("agents");
            foreach (var a in result.Agents)
            {
                json.WriteStartObject();
                json.WriteString("id", a.Id);
                if (a.Name is not null)
                {
                    json.WriteString("name", a.Name);
                }

                json.WriteString("extension", a.Extension);
                json.WriteString("pinHash", a.PinHash);
                json.WriteStartArray("queues");
                a.Queues.ForEach(json.WriteStringValue);
                json.WriteEndArray();
                if (a.Penalties.Count > 0)
                {
                    json.WriteStartObject("penalties");
                    foreach (var (queue, penalty) in a.Penalties)
                    {
                        json.WriteNumber(queue, penalty);
                    }

                    json.WriteEndObject();
                }
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }
}
