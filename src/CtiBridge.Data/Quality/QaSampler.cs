using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Quality;

/// <summary>How a QA week is sampled (QA-04, QA-05, QA-08).</summary>
public sealed record QaSamplingOptions
{
    /// <summary>Monday (or any day) the week starts, in <c>reports.time_zone</c>.</summary>
    public required DateOnly WeekStart { get; init; }
    /// <summary>Seed: the same week, seed and data give the same sample.</summary>
    public required long Seed { get; init; }
    /// <summary>Minimum samples per agent per week (N-17: at least 3).</summary>
    public int PerAgent { get; init; } = 3;
    /// <summary>Agents whose first login is at most this many days before the week's end count as new.</summary>
    public int NewAgentDays { get; init; } = 30;
    /// <summary>New agents get PerAgent times this many samples (QA-05: weight new staff).</summary>
    public int NewAgentFactor { get; init; } = 2;
    /// <summary>Queues whose first call is at most this many days before the week's end count as new.</summary>
    public int NewQueueDays { get; init; } = 30;
    /// <summary>Minimum samples per new queue per week (QA-05: weight new business).</summary>
    public int PerNewQueue { get; init; } = 3;
    /// <summary>Only calls with a recording can be sampled (listening needs the audio).</summary>
    public bool RequireRecording { get; init; } = true;
}

/// <summary>One sampled call.</summary>
public sealed record QaSample(Guid SampleId, string CallId, string AgentId, string Queue, DateTimeOffset AnsweredAt, string? RecordingId, string Stratum);

/// <summary>The draw: the samples and the agents that had fewer calls than their quota.</summary>
public sealed record QaSampleResult(IReadOnlyList<QaSample> Samples, IReadOnlyDictionary<string, int> Shortfalls, IReadOnlyList<string> NewAgents, IReadOnlyList<string> NewQueues);

/// <summary>
/// Draws the weekly QA sample: per agent, stratified over (queue, shift) so the samples spread
/// over the agent's queues and shifts (QA-08 "drawn per shift"), at least
/// <see cref="QaSamplingOptions.PerAgent"/> each, more for new agents, topped up for new queues.
/// Reproducible: candidates are ordered by call id and shuffled with a generator seeded from the
/// seed and the agent; the draw is stored in <c>qa_samples</c> (drawing again stores nothing new).
/// </summary>
public sealed class QaSampler
{
    private readonly NpgsqlDataSource _dataSource;

    /// <summary>Creates a sampler on a database.</summary>
    public QaSampler(NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
    }

    /// <summary>Draws and stores the sample of a week.</summary>
    public async Task<QaSampleResult> DrawAsync(QaSamplingOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.PerAgent);
        var candidates = await LoadCandidatesAsync(options, cancellationToken).ConfigureAwait(false);
        var newAgents = await LoadNewAsync(
            "SELECT agent_id FROM agent_state_intervals WHERE started_at < @week_end GROUP BY agent_id HAVING min(started_at) >= @week_end - make_interval(days => @days) ORDER BY agent_id",
            options, options.NewAgentDays, cancellationToken).ConfigureAwait(false);
        var newQueues = await LoadNewAsync(
            "SELECT queue FROM queue_visits WHERE entered_at < @week_end GROUP BY queue HAVING min(entered_at) >= @week_end - make_interval(days => @days) ORDER BY queue",
            options, options.NewQueueDays, cancellationToken).ConfigureAwait(false);

        var chosen = new List<Candidate>();
        var shortfalls = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var agentCalls in candidates.GroupBy(c => c.AgentId).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var quota = options.PerAgent * (newAgents.Contains(agentCalls.Key) ? options.NewAgentFactor : 1);
            var picked = DrawStratified(agentCalls.ToList(), quota, Seeded(options.Seed, "agent:" + agentCalls.Key));
            chosen.AddRange(picked);
            if (picked.Count < quota)
            {
                shortfalls[agentCalls.Key] = quota - picked.Count;
            }
        }

        var newQueueList = newQueues.Order(StringComparer.Ordinal).ToList();
        foreach (var queue in newQueueList)
        {
            var have = chosen.Count(c => c.Queue == queue);
            var rest = candidates.Where(c => c.Queue == queue && !chosen.Contains(c)).ToList();
            var random = Seeded(options.Seed, "queue:" + queue);
            Shuffle(rest, random);
            chosen.AddRange(rest.Take(Math.Max(0, options.PerNewQueue - have)));
        }

        var samples = chosen
            .Select(c => new QaSample(SampleId(options, c), c.CallId, c.AgentId, c.Queue, c.AnsweredAt, c.RecordingId, c.Stratum))
            .OrderBy(s => s.AgentId, StringComparer.Ordinal).ThenBy(s => s.AnsweredAt)
            .ToList();
        await StoreAsync(options, samples, candidates, cancellationToken).ConfigureAwait(false);
        return new QaSampleResult(samples, shortfalls, [.. newAgents.Order(StringComparer.Ordinal)], newQueueList);
    }

    // Round-robin over the strata (in a seeded order), a seeded random call from each in turn.
    private static List<Candidate> DrawStratified(List<Candidate> calls, int quota, Random random)
    {
        var strata = calls.GroupBy(c => c.Stratum).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var list = g.ToList();
                Shuffle(list, random);
                return new Queue<Candidate>(list);
            })
            .ToList();
        Shuffle(strata, random);
        var picked = new List<Candidate>(quota);
        while (picked.Count < quota && strata.Any(s => s.Count > 0))
        {
            foreach (var stratum in strata)
            {
                if (picked.Count < quota && stratum.TryDequeue(out var call))
                {
                    picked.Add(call);
                }
            }
        }

        return picked;
    }

    private static void Shuffle<T>(IList<T> list, Random random)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    // A generator per (seed, key) so one agent's draw does not depend on how many calls others had.
    private static Random Seeded(long seed, string key)
    {
#pragma warning disable CA5394 // Sampling for QA listening, not security: reproducibility is the point.
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}\n{key}"));
        return new Random(BitConverter.ToInt32(hash, 0));
#pragma warning restore CA5394
    }

    private static Guid SampleId(QaSamplingOptions options, Candidate candidate) =>
        new(SHA256.HashData(Encoding.UTF8.GetBytes($"{options.WeekStart:yyyy-MM-dd}\n{candidate.CallId}\n{candidate.AgentId}")).AsSpan(0, 16));

    private async Task<List<Candidate>> LoadCandidatesAsync(QaSamplingOptions options, CancellationToken cancellationToken)
    {
        // Shift strata by local hour of the answer: morning < 12:00 <= afternoon < 18:00 <= evening.
        const string Sql = """
            WITH w AS (SELECT (@week_start::timestamp AT TIME ZONE setting_text('reports.time_zone')) AS s,
                              ((@week_start::timestamp + interval '7 days') AT TIME ZONE setting_text('reports.time_zone')) AS e)
            SELECT v.call_id, v.agent_id, v.queue, v.answered_at,
                   coalesce(r.recording_id, c.recording_id) AS recording_id,
                   v.queue || '/' || CASE WHEN extract(hour FROM v.answered_at AT TIME ZONE setting_text('reports.time_zone')) < 12 THEN 'morning'
                                          WHEN extract(hour FROM v.answered_at AT TIME ZONE setting_text('reports.time_zone')) < 18 THEN 'afternoon'
                                          ELSE 'evening' END AS stratum,
                   c.started_at
            FROM w
            JOIN queue_visits v ON v.answered_at >= w.s AND v.answered_at < w.e AND v.outcome = 'answered'
            LEFT JOIN calls c ON c.call_id = v.call_id AND c.started_at > w.s - interval '1 day' AND c.started_at < w.e
            LEFT JOIN LATERAL (SELECT rec.recording_id FROM recordings rec WHERE rec.call_id = v.call_id ORDER BY rec.started_at LIMIT 1) r ON true
            ORDER BY v.call_id, v.agent_id, v.answered_at
            """;
        await using var command = _dataSource.CreateCommand(Sql);
        command.Parameters.Add(new NpgsqlParameter("week_start", NpgsqlDbType.Date) { Value = options.WeekStart });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<Candidate>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var recording = reader.IsDBNull(4) ? null : reader.GetString(4);
            if (options.RequireRecording && recording is null)
            {
                continue;
            }

            list.Add(new Candidate(
                reader.GetString(0), reader.GetString(1), reader.GetString(2),
                new DateTimeOffset(reader.GetDateTime(3), TimeSpan.Zero), recording, reader.GetString(5),
                reader.IsDBNull(6) ? null : new DateTimeOffset(reader.GetDateTime(6), TimeSpan.Zero)));
        }

        return list;
    }

    private async Task<HashSet<string>> LoadNewAsync(string sql, QaSamplingOptions options, int days, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter("week_end", NpgsqlDbType.TimestampTz) { Value = WeekEndUtc(options) });
        command.Parameters.Add(new NpgsqlParameter("days", NpgsqlDbType.Integer) { Value = days });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var set = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            set.Add(reader.GetString(0));
        }

        return set;
    }

    // Week end in UTC for the "new" look-back; a few hours of zone offset do not matter for a 30-day window.
    private static DateTime WeekEndUtc(QaSamplingOptions options) =>
        options.WeekStart.AddDays(7).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);

    private async Task StoreAsync(QaSamplingOptions options, List<QaSample> samples, List<Candidate> candidates, CancellationToken cancellationToken)
    {
        var started = candidates.GroupBy(c => c.CallId).ToDictionary(g => g.Key, g => g.First().CallStartedAt, StringComparer.Ordinal);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection);
        foreach (var sample in samples)
        {
            var command = new NpgsqlBatchCommand(
                "INSERT INTO qa_samples (sample_id, week_start, call_id, call_started_at, answered_at, agent_id, queue, recording_id, stratum, seed) " +
                "VALUES (@id, @week, @call, @started, @answered, @agent, @queue, @recording, @stratum, @seed) ON CONFLICT DO NOTHING");
            command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = sample.SampleId });
            command.Parameters.Add(new NpgsqlParameter("week", NpgsqlDbType.Date) { Value = options.WeekStart });
            command.Parameters.Add(new NpgsqlParameter("call", NpgsqlDbType.Text) { Value = sample.CallId });
            command.Parameters.Add(new NpgsqlParameter("started", NpgsqlDbType.TimestampTz) { Value = (object?)started[sample.CallId]?.UtcDateTime ?? DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("answered", NpgsqlDbType.TimestampTz) { Value = sample.AnsweredAt.UtcDateTime });
            command.Parameters.Add(new NpgsqlParameter("agent", NpgsqlDbType.Text) { Value = sample.AgentId });
            command.Parameters.Add(new NpgsqlParameter("queue", NpgsqlDbType.Text) { Value = sample.Queue });
            command.Parameters.Add(new NpgsqlParameter("recording", NpgsqlDbType.Text) { Value = (object?)sample.RecordingId ?? DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("stratum", NpgsqlDbType.Text) { Value = sample.Stratum });
            command.Parameters.Add(new NpgsqlParameter("seed", NpgsqlDbType.Bigint) { Value = options.Seed });
            batch.BatchCommands.Add(command);
        }

        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private sealed record Candidate(string CallId, string AgentId, string Queue, DateTimeOffset AnsweredAt, string? RecordingId, string Stratum, DateTimeOffset? CallStartedAt);
}
