using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using CtiBridge.Data.LiveState;
using Npgsql;

namespace CtiBridge.Service.Cli;

/// <summary>
/// <c>ctibridge agents</c> and <c>ctibridge queues</c>: what the running instance(s) are doing now,
/// like Asterisk's <c>queue show</c>, read from the database the instances keep their live state in
/// (docs/service.md, "Status from the command line" says why the database and not the API).
/// Exit codes: 0 shown, 2 database missing or unreachable, 3 no instance runs call control.
/// </summary>
public static class StatusCommands
{
    /// <summary>Exit code when no CtiBridge service is connected to the database.</summary>
    public const int NothingRunning = 3;

    /// <summary>Creates <c>agents</c>.</summary>
    public static Command CreateAgents() => Create("agents", "Logged-in agents now: state, reason, time in state, queues, calls today (from the database the running instances keep).", WriteAgents);

    /// <summary>Creates <c>queues</c>.</summary>
    public static Command CreateQueues() => Create("queues", "Queues now: waiting, longest wait, agents by state, today's offered/answered/abandoned and service level (from the database).", WriteQueues);

    private static Command Create(string name, string description, Action<LiveStatusSnapshot, TextWriter> write)
    {
        var command = new Command(name, description);
        var database = CliDatabase.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var dataSource = database.Open(parse, error, name);
            if (dataSource is null)
            {
                return 2;
            }

            await using (dataSource.ConfigureAwait(false))
            {
                LiveStatusSnapshot snapshot;
                try
                {
                    snapshot = await new LiveStatus(dataSource).LoadAsync(TimeProvider.System.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NpgsqlException or SocketException or TimeoutException or InvalidOperationException)
                {
                    await error.WriteLineAsync($"{name}: cannot read the live state from the database: {ex.Message}").ConfigureAwait(false);
                    return 2;
                }

                if (snapshot.InstancesRunning == 0)
                {
                    await error.WriteLineAsync($"{name}: no CtiBridge service is connected to this database, so nothing runs call control; start it with 'ctibridge run' (systemctl start ctibridge)").ConfigureAwait(false);
                    return NothingRunning;
                }

                write(snapshot, parse.InvocationConfiguration.Output);
                return 0;
            }
        });
        return command;
    }

    private static string Duration(TimeSpan span) =>
        span.TotalHours >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalHours}:{span.Minutes:00}:{span.Seconds:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{span.Minutes}:{span.Seconds:00}");

    /// <summary>Writes the agents table.</summary>
    public static void WriteAgents(LiveStatusSnapshot snapshot, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(output);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"Agent",-12} {"Phone",-14} {"State",-8} {"Reason",-12} {"In state",9} {"Today",5}  {"Queues",-20} Call");
        foreach (var agent in snapshot.Agents)
        {
            var inState = snapshot.At > agent.Since ? snapshot.At - agent.Since : TimeSpan.Zero;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{agent.AgentId,-12} {agent.Extension,-14} {agent.State,-8} {agent.Reason ?? "-",-12} {Duration(inState),9} {agent.CallsToday,5}  {string.Join(',', agent.Queues),-20} {agent.CallId ?? "-"}");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"{snapshot.Agents.Count} agent(s) logged in; today = {snapshot.TimeZoneId}");
        output.Write(text.ToString());
    }

    /// <summary>Writes the queues table.</summary>
    public static void WriteQueues(LiveStatusSnapshot snapshot, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(output);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{"Queue",-14} {"Waiting",7} {"Longest",8} {"Ready",5} {"Ringing",7} {"OnCall",6} {"WrapUp",6} {"Paused",6} {"Offered",7} {"Answered",8} {"Abandon",7} {"SL",6}");
        foreach (var queue in snapshot.Queues)
        {
            var sl = queue.Today.ServiceLevel is { } level ? string.Create(CultureInfo.InvariantCulture, $"{level * 100:0.0}%") : "-";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{queue.Queue,-14} {queue.Waiting,7} {Duration(queue.LongestWait),8} {queue.Ready,5} {queue.Ringing,7} {queue.OnCall,6} {queue.WrapUp,6} {queue.Paused,6} {queue.Today.Offered,7} {queue.Today.Answered,8} {queue.Today.Abandoned,7} {sl,6}");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"{snapshot.Queues.Count} queue(s); today = {snapshot.TimeZoneId} (figures from the call records, docs/metrics.md)");
        output.Write(text.ToString());
    }
}
