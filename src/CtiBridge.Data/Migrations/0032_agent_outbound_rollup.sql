-- The agents' outbound calls (metrics definitions version 3, migration 0026) in a 15-minute rollup,
-- like their inbound calls (agent_rollup_15m): the month agent report read every outbound call of the
-- month through the partial index (360 000 campaign calls in the 10 M-call benchmark month: 0.7 s of
-- the report's 2.5 s under load, docs/benchmarks.md). Same rule as the other rollups: the writer
-- recounts the quarters (UTC, by answer time) a batch's outbound calls touched, in the batch's
-- transaction, so a row is always a recount of its quarter and a replay or revision cannot skew it.
-- The report reads it for quarter-aligned windows without a queue filter (a queue filter keeps only
-- callback calls of that queue, few, read from calls as before). Numbers are the same either way
-- (RollupTests); no definition changes.
CREATE TABLE agent_outbound_rollup_15m (
    bucket_start  timestamptz      NOT NULL,
    agent_id      text             NOT NULL,
    calls         bigint           NOT NULL,
    talk_sum      double precision NOT NULL,
    hold_sum      double precision NOT NULL,
    wrap_up_sum   double precision NOT NULL,
    handled       bigint           NOT NULL,
    handle_sum    double precision NOT NULL,
    PRIMARY KEY (bucket_start, agent_id)
);
COMMENT ON TABLE agent_outbound_rollup_15m IS 'Agents'' outbound calls (agent_outbound_calls) per 15-minute UTC quarter of the answer; kept by the writer (migration 0032).';

-- Recounts the given quarters from agent_outbound_calls.
CREATE FUNCTION records_refresh_agent_outbound_rollups(p_quarters timestamptz[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    lo timestamptz;
    hi timestamptz;
BEGIN
    IF cardinality(p_quarters) = 0 THEN
        RETURN;
    END IF;
    SELECT min(q), max(q) + interval '15 minutes' INTO lo, hi FROM unnest(p_quarters) AS q;
    -- One refresher at a time, with its own key (as the other rollups).
    PERFORM pg_advisory_xact_lock(4859203847564);
    DELETE FROM agent_outbound_rollup_15m WHERE bucket_start = ANY (p_quarters);
    INSERT INTO agent_outbound_rollup_15m
    SELECT records_quarter(o.answered_at), o.agent_id, count(*), sum(o.talk_seconds), sum(o.hold_seconds), sum(o.wrap_up_seconds),
           count(*) FILTER (WHERE o.handled), coalesce(sum(o.talk_seconds + o.hold_seconds + o.wrap_up_seconds) FILTER (WHERE o.handled), 0)
    FROM agent_outbound_calls(lo, hi) o
    WHERE records_quarter(o.answered_at) = ANY (p_quarters)
    GROUP BY 1, 2;
END $$;
ALTER FUNCTION records_refresh_agent_outbound_rollups(timestamptz[]) SET jit = off;

-- The rollup of the outbound calls written before this migration.
INSERT INTO agent_outbound_rollup_15m
SELECT records_quarter(o.answered_at), o.agent_id, count(*), sum(o.talk_seconds), sum(o.hold_seconds), sum(o.wrap_up_seconds),
       count(*) FILTER (WHERE o.handled), coalesce(sum(o.talk_seconds + o.hold_seconds + o.wrap_up_seconds) FILTER (WHERE o.handled), 0)
FROM agent_outbound_calls('-infinity', 'infinity') o
GROUP BY 1, 2;

-- Same report as migration 0026; the agents' outbound calls come from agent_outbound_rollup_15m when it can.
CREATE OR REPLACE FUNCTION report_agent_activity(p_from timestamptz, p_to timestamptz, p_interval text DEFAULT '1d', p_agent text DEFAULT NULL, p_queue text DEFAULT NULL)
RETURNS TABLE (
    interval_start timestamptz, agent_id text, logins bigint,
    logged_in_seconds double precision, available_seconds double precision, ringing_seconds double precision,
    in_call_seconds double precision, wrap_up_state_seconds double precision, outbound_seconds double precision,
    paused_seconds double precision, pause_by_reason jsonb,
    calls bigint, inbound_calls bigint, outbound_calls bigint, talk_seconds double precision, hold_seconds double precision, wrap_up_seconds double precision,
    aht_seconds double precision, occupancy double precision, calls_per_hour double precision,
    missed_calls bigint, answer_rank bigint, definitions_version integer)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    tz text := setting_text('reports.time_zone');
    ver integer := setting_numeric('metrics.definitions_version')::integer;
    step interval;
    use_rollup boolean;
    use_state_rollup boolean;
BEGIN
    PERFORM report_check_args(p_from, p_to, p_interval);
    use_rollup := records_quarter(p_from) = p_from AND records_quarter(p_to) = p_to;
    step := report_interval_step(p_interval);
    -- Every boundary (window ends and interval starts inside it) on a UTC hour: each rollup hour
    -- then lies inside exactly one report interval.
    use_state_rollup := date_trunc('hour', p_from, 'UTC') = p_from AND date_trunc('hour', p_to, 'UTC') = p_to
        AND NOT EXISTS (
            SELECT 1 FROM generate_series(report_bucket(p_from, p_interval, tz) AT TIME ZONE tz,
                                          p_to AT TIME ZONE tz - interval '1 microsecond', step) AS g
            WHERE date_trunc('hour', g AT TIME ZONE tz, 'UTC') <> g AT TIME ZONE tz);
    RETURN QUERY
    WITH pieces AS (
        SELECT (g AT TIME ZONE tz) AS b_start, s.agent_id, s.state, s.reason,
               extract(epoch FROM least(s.ended_at, (g + step) AT TIME ZONE tz, p_to)
                                - greatest(s.started_at, g AT TIME ZONE tz, p_from))::float8 AS secs
        FROM agent_state_intervals s
        CROSS JOIN LATERAL generate_series(report_bucket(greatest(s.started_at, p_from), p_interval, tz) AT TIME ZONE tz,
                                           least(s.ended_at, p_to) AT TIME ZONE tz - interval '1 microsecond', step) AS g
        -- Intervals are at most one day long (the writer splits them), so one day of look-back finds every overlap.
        WHERE NOT use_state_rollup
          AND s.started_at >= p_from - interval '1 day' AND s.started_at < p_to AND s.ended_at > p_from
          AND (p_agent IS NULL OR s.agent_id = p_agent)
        UNION ALL
        SELECT report_bucket(r.bucket_start, p_interval, tz), r.agent_id, r.state, nullif(r.reason, ''), r.seconds
        FROM agent_state_rollup_1h r
        WHERE use_state_rollup AND r.bucket_start >= p_from AND r.bucket_start < p_to
          AND (p_agent IS NULL OR r.agent_id = p_agent)),
    sums AS (
        SELECT b_start, agent_id, state, reason, sum(secs) AS secs
        FROM pieces WHERE secs > 0 GROUP BY 1, 2, 3, 4),
    states AS (
        SELECT b_start, agent_id,
               sum(secs) AS logged,
               coalesce(sum(secs) FILTER (WHERE state = 'available'), 0) AS avail,
               coalesce(sum(secs) FILTER (WHERE state = 'ringing'), 0) AS ring,
               coalesce(sum(secs) FILTER (WHERE state = 'in_call'), 0) AS incall,
               coalesce(sum(secs) FILTER (WHERE state = 'wrap_up'), 0) AS wrapst,
               coalesce(sum(secs) FILTER (WHERE state = 'outbound'), 0) AS outb,
               coalesce(sum(secs) FILTER (WHERE state = 'paused'), 0) AS paused
        FROM sums GROUP BY 1, 2),
    pauses AS (
        SELECT b_start, agent_id, jsonb_object_agg(coalesce(reason, ''), secs ORDER BY coalesce(reason, '')) AS by_reason
        FROM sums WHERE state = 'paused'
        GROUP BY 1, 2),
    sessions AS (
        SELECT report_bucket(min(s.started_at), p_interval, tz) AS b_start, s.agent_id, s.session_id
        FROM agent_state_intervals s
        WHERE NOT use_state_rollup
          AND s.started_at >= p_from - interval '1 day' AND s.started_at < p_to AND (p_agent IS NULL OR s.agent_id = p_agent)
        GROUP BY s.agent_id, s.session_id
        HAVING min(s.started_at) >= p_from),
    logins AS (
        SELECT b_start, agent_id, count(*) AS n FROM sessions GROUP BY 1, 2
        UNION ALL
        SELECT report_bucket(r.bucket_start, p_interval, tz), r.agent_id, sum(r.logins)::bigint
        FROM agent_login_rollup_1h r
        WHERE use_state_rollup AND r.bucket_start >= p_from AND r.bucket_start < p_to
          AND (p_agent IS NULL OR r.agent_id = p_agent)
        GROUP BY 1, 2),
    handled AS (
        SELECT report_bucket(r.bucket_start, p_interval, tz) AS b_start, r.agent_id,
               sum(r.calls)::bigint AS n, sum(r.talk_sum) AS talk, sum(r.hold_sum) AS hold, sum(r.wrap_up_sum) AS wrap,
               sum(r.handled)::bigint AS n_h, sum(r.handle_sum) AS handle
        FROM agent_rollup_15m r
        WHERE use_rollup AND r.bucket_start >= p_from AND r.bucket_start < p_to
          AND (p_agent IS NULL OR r.agent_id = p_agent) AND (p_queue IS NULL OR r.queue = p_queue)
        GROUP BY 1, 2
        UNION ALL
        SELECT report_bucket(v.answered_at, p_interval, tz) AS b_start, v.agent_id,
               count(*) AS n, sum(v.talk_seconds) AS talk, sum(v.hold_seconds) AS hold, sum(v.wrap_up_seconds) AS wrap,
               count(*) FILTER (WHERE v.handled) AS n_h,
               sum(v.talk_seconds + v.hold_seconds + v.wrap_up_seconds) FILTER (WHERE v.handled) AS handle
        FROM queue_visits v
        WHERE NOT use_rollup AND v.answered_at >= p_from AND v.answered_at < p_to
          AND (p_agent IS NULL OR v.agent_id = p_agent) AND (p_queue IS NULL OR v.queue = p_queue)
        GROUP BY 1, 2),
    -- The agent's campaign and callback calls (definitions version 3): the same rows, by the same rule, as the live tally.
    outbound AS (
        SELECT report_bucket(o.answered_at, p_interval, tz) AS b_start, o.agent_id,
               count(*) AS n, sum(o.talk_seconds) AS talk, sum(o.hold_seconds) AS hold, sum(o.wrap_up_seconds) AS wrap,
               count(*) FILTER (WHERE o.handled) AS n_h,
               sum(o.talk_seconds + o.hold_seconds + o.wrap_up_seconds) FILTER (WHERE o.handled) AS handle
        FROM agent_outbound_calls(p_from, p_to) o
        WHERE NOT (use_rollup AND p_queue IS NULL)
          AND (p_agent IS NULL OR o.agent_id = p_agent) AND (p_queue IS NULL OR p_queue = ANY (o.queues))
        GROUP BY 1, 2
        UNION ALL
        -- Quarter-aligned windows without a queue filter read the 15-minute rollup (migration 0032).
        SELECT report_bucket(r.bucket_start, p_interval, tz), r.agent_id,
               sum(r.calls)::bigint, sum(r.talk_sum), sum(r.hold_sum), sum(r.wrap_up_sum), sum(r.handled)::bigint, sum(r.handle_sum)
        FROM agent_outbound_rollup_15m r
        WHERE use_rollup AND p_queue IS NULL AND r.bucket_start >= p_from AND r.bucket_start < p_to
          AND (p_agent IS NULL OR r.agent_id = p_agent)
        GROUP BY 1, 2),
    work AS (
        SELECT b_start, agent_id, sum(n)::bigint AS n, sum(n_in)::bigint AS n_in, sum(n_out)::bigint AS n_out,
               sum(talk) AS talk, sum(hold) AS hold, sum(wrap) AS wrap, sum(n_h)::bigint AS n_h, sum(handle) AS handle
        FROM (SELECT b_start, agent_id, n, n AS n_in, 0::bigint AS n_out, talk, hold, wrap, n_h, handle FROM handled
              UNION ALL
              SELECT b_start, agent_id, n, 0::bigint, n, talk, hold, wrap, n_h, handle FROM outbound) AS w
        GROUP BY 1, 2),
    missed AS (
        SELECT report_bucket(e.event_time, p_interval, tz) AS b_start, e.agent AS agent_id, count(*) AS n
        FROM queue_events e
        WHERE e.event = 'RINGNOANSWER' AND e.event_time >= p_from AND e.event_time < p_to
          AND (p_agent IS NULL OR e.agent = p_agent) AND (p_queue IS NULL OR e.queue = p_queue)
        GROUP BY 1, 2),
    keys AS (
        SELECT b_start, agent_id FROM states UNION SELECT b_start, agent_id FROM work
        UNION SELECT b_start, agent_id FROM missed UNION SELECT b_start, agent_id FROM logins),
    joined AS (
        SELECT k.b_start, k.agent_id, coalesce(l.n, 0) AS logins,
               coalesce(s.logged, 0) AS logged, coalesce(s.avail, 0) AS avail, coalesce(s.ring, 0) AS ring,
               coalesce(s.incall, 0) AS incall, coalesce(s.wrapst, 0) AS wrapst, coalesce(s.outb, 0) AS outb,
               coalesce(s.paused, 0) AS paused, coalesce(p.by_reason, '{}'::jsonb) AS by_reason,
               coalesce(h.n, 0) AS calls, coalesce(h.n_in, 0) AS calls_in, coalesce(h.n_out, 0) AS calls_out, coalesce(h.talk, 0) AS talk, coalesce(h.hold, 0) AS hold, coalesce(h.wrap, 0) AS wrap,
               CASE WHEN h.n_h > 0 THEN h.handle / h.n_h END AS aht,
               coalesce(m.n, 0) AS missed
        FROM keys k
        LEFT JOIN states s USING (b_start, agent_id)
        LEFT JOIN pauses p USING (b_start, agent_id)
        LEFT JOIN logins l USING (b_start, agent_id)
        LEFT JOIN work h USING (b_start, agent_id)
        LEFT JOIN missed m USING (b_start, agent_id))
    SELECT j.b_start, j.agent_id, j.logins, j.logged, j.avail, j.ring, j.incall, j.wrapst, j.outb, j.paused, j.by_reason,
           j.calls, j.calls_in, j.calls_out, j.talk, j.hold, j.wrap, j.aht,
           (j.incall + j.wrapst + j.outb) / nullif(j.incall + j.wrapst + j.outb + j.avail + j.ring, 0),
           j.calls / nullif(j.logged / 3600.0, 0),
           j.missed,
           rank() OVER (PARTITION BY j.b_start ORDER BY j.calls DESC, j.aht ASC NULLS LAST),
           ver
    FROM joined j
    ORDER BY j.b_start, j.agent_id;
END $$;
ALTER FUNCTION report_agent_activity(timestamptz, timestamptz, text, text, text) SET jit = off;

