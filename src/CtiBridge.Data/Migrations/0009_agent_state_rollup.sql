-- Hourly rollup of the agent state log, so the per-agent report for a month reads ~50 rows per
-- agent and day instead of every state interval (a busy agent has three or four intervals per
-- call: ringing, in call, wrap-up, available; a 100-seat month is millions of intervals).
-- Like the 15-minute rollups of 0005, each row is a recount of its bucket, refreshed by the writer
-- in the batch's transaction for the hours the batch touched, never a running sum.
-- Hours (UTC) nest into the report intervals of every zone with whole-hour offsets; the report
-- uses the rollup only when every interval boundary of the window falls on a UTC hour, and
-- otherwise (15m/30m intervals, half-hour zones, unaligned windows) reads the state log itself.

-- Finds the intervals overlapping an hour for the recount (a btree on started_at alone would
-- scan a whole day of intervals for each hour).
CREATE INDEX agent_state_intervals_during ON agent_state_intervals USING gist (tstzrange(started_at, ended_at));

CREATE TABLE agent_state_rollup_1h (
    bucket_start  timestamptz      NOT NULL,
    agent_id      text             NOT NULL,
    state         text             NOT NULL,
    -- '' when the state has no reason (only paused time has one); keeps the key NOT NULL.
    reason        text             NOT NULL,
    seconds       double precision NOT NULL,
    PRIMARY KEY (bucket_start, agent_id, state, reason)
);
COMMENT ON TABLE agent_state_rollup_1h IS 'Agent state time per agent, state, pause reason and UTC hour (recounted by the writer).';

CREATE TABLE agent_login_rollup_1h (
    bucket_start  timestamptz NOT NULL,
    agent_id      text        NOT NULL,
    logins        bigint      NOT NULL,
    PRIMARY KEY (bucket_start, agent_id)
);
COMMENT ON TABLE agent_login_rollup_1h IS 'Login sessions per agent by the UTC hour their first state interval starts (recounted by the writer).';

-- Recounts the given UTC hours of both tables.
CREATE FUNCTION records_refresh_agent_state_rollups(p_hours timestamptz[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF cardinality(p_hours) = 0 THEN
        RETURN;
    END IF;
    -- One refresher at a time, as records_refresh_rollups (its own key: the two never wait on each other).
    PERFORM pg_advisory_xact_lock(4859203847563);
    DELETE FROM agent_state_rollup_1h WHERE bucket_start = ANY (p_hours);
    INSERT INTO agent_state_rollup_1h
    SELECT h, s.agent_id, s.state, coalesce(s.reason, ''),
           sum(extract(epoch FROM least(s.ended_at, h + interval '1 hour') - greatest(s.started_at, h)))::float8
    FROM unnest(p_hours) AS h
    -- The range index finds the intervals overlapping the hour; the started_at bounds (intervals
    -- last at most a day: the writer splits them at UTC midnight) let partitions be pruned.
    JOIN agent_state_intervals s ON tstzrange(s.started_at, s.ended_at) && tstzrange(h, h + interval '1 hour')
                                AND s.started_at >= h - interval '1 day' AND s.started_at < h + interval '1 hour'
    GROUP BY 1, 2, 3, 4;

    DELETE FROM agent_login_rollup_1h WHERE bucket_start = ANY (p_hours);
    INSERT INTO agent_login_rollup_1h
    SELECT h, s.agent_id, count(*)
    FROM unnest(p_hours) AS h
    JOIN agent_state_intervals s ON s.started_at >= h AND s.started_at < h + interval '1 hour'
    -- A session's first interval: the agent's previous interval belongs to another session or
    -- there is none (an agent has one session at a time, its log has no gaps within a session
    -- and intervals last at most a day, so one day of look-back is enough).
    WHERE (SELECT p.session_id FROM agent_state_intervals p
           WHERE p.agent_id = s.agent_id AND p.started_at < s.started_at AND p.started_at >= s.started_at - interval '1 day'
           ORDER BY p.started_at DESC LIMIT 1) IS DISTINCT FROM s.session_id
    GROUP BY 1, 2;
END $$;
ALTER FUNCTION records_refresh_agent_state_rollups(timestamptz[]) SET jit = off;

-- Recounts every rollup of [p_from, p_to), the 15-minute ones of 0005 and the hourly ones here.
CREATE OR REPLACE FUNCTION records_rebuild_rollups(p_from timestamptz, p_to timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    day timestamptz := records_quarter(p_from);
BEGIN
    -- A day at a time keeps each recount's arrays small.
    WHILE day < p_to LOOP
        PERFORM records_refresh_rollups(
            ARRAY(SELECT generate_series(day, least(day + interval '1 day', p_to) - interval '1 microsecond', interval '15 minutes')),
            ARRAY(SELECT generate_series(day, least(day + interval '1 day', p_to) - interval '1 microsecond', interval '15 minutes')));
        PERFORM records_refresh_agent_state_rollups(
            ARRAY(SELECT generate_series(date_trunc('hour', day, 'UTC'), least(day + interval '1 day', p_to) - interval '1 microsecond', interval '1 hour')));
        day := day + interval '1 day';
    END LOOP;
END $$;

-- Same report as migration 0008; state time and logins come from the hourly rollup when every
-- report interval boundary in the window is a UTC hour.
CREATE OR REPLACE FUNCTION report_agent_activity(p_from timestamptz, p_to timestamptz, p_interval text DEFAULT '1d', p_agent text DEFAULT NULL, p_queue text DEFAULT NULL)
RETURNS TABLE (
    interval_start timestamptz, agent_id text, logins bigint,
    logged_in_seconds double precision, available_seconds double precision, ringing_seconds double precision,
    in_call_seconds double precision, wrap_up_state_seconds double precision, outbound_seconds double precision,
    paused_seconds double precision, pause_by_reason jsonb,
    calls bigint, talk_seconds double precision, hold_seconds double precision, wrap_up_seconds double precision,
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
    missed AS (
        SELECT report_bucket(e.event_time, p_interval, tz) AS b_start, e.agent AS agent_id, count(*) AS n
        FROM queue_events e
        WHERE e.event = 'RINGNOANSWER' AND e.event_time >= p_from AND e.event_time < p_to
          AND (p_agent IS NULL OR e.agent = p_agent) AND (p_queue IS NULL OR e.queue = p_queue)
        GROUP BY 1, 2),
    keys AS (
        SELECT b_start, agent_id FROM states UNION SELECT b_start, agent_id FROM handled
        UNION SELECT b_start, agent_id FROM missed UNION SELECT b_start, agent_id FROM logins),
    joined AS (
        SELECT k.b_start, k.agent_id, coalesce(l.n, 0) AS logins,
               coalesce(s.logged, 0) AS logged, coalesce(s.avail, 0) AS avail, coalesce(s.ring, 0) AS ring,
               coalesce(s.incall, 0) AS incall, coalesce(s.wrapst, 0) AS wrapst, coalesce(s.outb, 0) AS outb,
               coalesce(s.paused, 0) AS paused, coalesce(p.by_reason, '{}'::jsonb) AS by_reason,
               coalesce(h.n, 0) AS calls, coalesce(h.talk, 0) AS talk, coalesce(h.hold, 0) AS hold, coalesce(h.wrap, 0) AS wrap,
               CASE WHEN h.n_h > 0 THEN h.handle / h.n_h END AS aht,
               coalesce(m.n, 0) AS missed
        FROM keys k
        LEFT JOIN states s USING (b_start, agent_id)
        LEFT JOIN pauses p USING (b_start, agent_id)
        LEFT JOIN logins l USING (b_start, agent_id)
        LEFT JOIN handled h USING (b_start, agent_id)
        LEFT JOIN missed m USING (b_start, agent_id))
    SELECT j.b_start, j.agent_id, j.logins, j.logged, j.avail, j.ring, j.incall, j.wrapst, j.outb, j.paused, j.by_reason,
           j.calls, j.talk, j.hold, j.wrap, j.aht,
           (j.incall + j.wrapst + j.outb) / nullif(j.incall + j.wrapst + j.outb + j.avail + j.ring, 0),
           j.calls / nullif(j.logged / 3600.0, 0),
           j.missed,
           rank() OVER (PARTITION BY j.b_start ORDER BY j.calls DESC, j.aht ASC NULLS LAST),
           ver
    FROM joined j
    ORDER BY j.b_start, j.agent_id;
END $$;
ALTER FUNCTION report_agent_activity(timestamptz, timestamptz, text, text, text) SET jit = off;

-- Builds both hourly rollups from the whole state log in one pass (for existing logs at this
-- migration; recounting hour by hour would probe the log once per hour of history). Replaces
-- what the rollups hold.
CREATE FUNCTION records_backfill_agent_state_rollups() RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(4859203847563);
    TRUNCATE agent_state_rollup_1h, agent_login_rollup_1h;
    INSERT INTO agent_state_rollup_1h
    SELECT h, s.agent_id, s.state, coalesce(s.reason, ''),
           sum(extract(epoch FROM least(s.ended_at, h + interval '1 hour') - greatest(s.started_at, h)))::float8
    FROM agent_state_intervals s
    CROSS JOIN LATERAL generate_series(date_trunc('hour', s.started_at, 'UTC'), s.ended_at - interval '1 microsecond', interval '1 hour') AS h
    GROUP BY 1, 2, 3, 4;

    INSERT INTO agent_login_rollup_1h
    SELECT date_trunc('hour', started_at, 'UTC'), agent_id, count(*)
    FROM (SELECT agent_id, started_at, session_id,
                 lag(session_id) OVER (PARTITION BY agent_id ORDER BY started_at) AS previous_session,
                 lag(started_at) OVER (PARTITION BY agent_id ORDER BY started_at) AS previous_start
          FROM agent_state_intervals) AS s
    -- Same rule as the recount: no previous interval of the agent within a day, or one of another session.
    WHERE previous_session IS DISTINCT FROM session_id OR previous_start < started_at - interval '1 day'
    GROUP BY 1, 2;
END $$;
ALTER FUNCTION records_backfill_agent_state_rollups() SET jit = off;

SELECT records_backfill_agent_state_rollups();
