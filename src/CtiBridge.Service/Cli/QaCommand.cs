using System.CommandLine;
using System.Globalization;
using CtiBridge.Data.Exports;
using CtiBridge.Data.Quality;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge qa sample --week 2026-06-01 [--seed N] [--per-agent 3]</c>: draws the week's QA sample.</summary>
public static class QaCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var week = new Option<string>("--week") { Description = "First day of the week (e.g. the Monday), yyyy-MM-dd, in reports.time_zone.", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed; the same week, seed and data draw the same calls. Default 1.", DefaultValueFactory = _ => 1 };
        var perAgent = new Option<int>("--per-agent") { Description = "Minimum samples per agent (default 3; new agents get twice as many).", DefaultValueFactory = _ => 3 };
        var unrecorded = new Option<bool>("--include-unrecorded") { Description = "Also draw calls that have no recording." };
        var sample = new Command("sample", "Draw and store the QA sample of a week (stratified by queue and shift); prints the samples as CSV.")
        {
            week, seed, perAgent, unrecorded,
        };
        var database = CliDatabase.AddTo(sample);
        sample.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var output = parse.InvocationConfiguration.Output;
            if (!DateOnly.TryParseExact(parse.GetValue(week), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var weekStart))
            {
                await error.WriteLineAsync($"qa sample: --week '{parse.GetValue(week)}' is not a date like 2026-06-01").ConfigureAwait(false);
                return 2;
            }

            if (parse.GetValue(perAgent) < 1)
            {
                await error.WriteLineAsync("qa sample: --per-agent must be at least 1").ConfigureAwait(false);
                return 2;
            }

            var dataSource = database.Open(parse, error, "qa sample");
            if (dataSource is null)
            {
                return 2;
            }

            await using (dataSource.ConfigureAwait(false))
            {
                QaSampleResult result = null!;
                var exit = await RecordCliRun.RunAsync("qa sample", error, async () =>
                {
                    result = await new QaSampler(dataSource).DrawAsync(
                        new QaSamplingOptions { WeekStart = weekStart, Seed = parse.GetValue(seed), PerAgent = parse.GetValue(perAgent), RequireRecording = !parse.GetValue(unrecorded) },
                        cancellationToken).ConfigureAwait(false);
                    return result.Samples.Count;
                }).ConfigureAwait(false);
                if (exit != 0)
                {
                    return exit;
                }

                var csv = new CsvWriter(output);
                csv.WriteRecord(["sample_id", "agent_id", "queue", "call_id", "answered_at", "recording_id", "stratum"]);
                foreach (var s in result.Samples)
                {
                    csv.WriteRecord([s.SampleId.ToString(), s.AgentId, s.Queue, s.CallId, RecordExporter.CsvText(s.AnsweredAt), s.RecordingId, s.Stratum]);
                }

                foreach (var (agent, missing) in result.Shortfalls)
                {
                    await error.WriteLineAsync($"qa sample: agent {agent} had {missing} call(s) too few for the quota").ConfigureAwait(false);
                }

                return 0;
            }
        });
        return new Command("qa", "Quality assurance: sampling calls for listening.") { sample };
    }
}
