-- Rollups for the month-scale reports: 15-minute (UTC) aggregates of queue visits by entry time
-- and of answered calls by agent and answer time. Kept current by the writer, which refreshes the
-- buckets a batch touched in the same transaction (records_refresh_rollups), so a rollup row is
-- always a recount of its bucket, never a running sum that a replay or a revision could skew.
-- 15-minute UTC buckets nest exactly into the report intervals of every real time zone (all
-- offsets are whole quarter hours). The rollup stores the thresholds it was counted with; the
-- report uses it only when they equal the current settings and the window is quarter-hour aligned,
-- and otherwise counts from queue_visits (same numbers, slower). After changing
-- metrics.service_level_seconds or metrics.short_abandon_seconds run records_rebuild_rollups.

CREATE TABLE queue_rollup_15m (
    bucket_start           timestamptz NOT NULL,
    queue                  text        NOT NULL,
    offered                bigint      NOT NULL,
    answered               bigint      NOT NULL,
    answered_within_sl     bigint      NOT NULL,
    abandoned              bigint      NOT NULL,
    abandoned_short        bigint      NOT NULL,
    timeouts               bigint      NOT NULL,
    exits_empty            bigint      NOT NULL,
    exits_key              bigint      NOT NULL,
    system_lost            bigint      NOT NULL,
    wait_answered_sum      double precision NOT NULL,
    handled                bigint      NOT NULL,
    talk_sum               double precision NOT NULL,
    hold_sum               double precision NOT NULL,
    wrap_up_sum            double precision NOT NULL,
    longest_wait           double precision,
    service_level_seconds  double precision NOT NULL,
    short_abandon_seconds  double precision NOT NULL,
    PRIMARY KEY (bucket_start, queue)
);
COMMENT ON TABLE queue_rollup_15m IS 'Queue visits per queue and 15-minute UTC bucket of entry time (recounted by the writer).';

CREATE TABLE agent_rollup_15m (
    bucket_start  timestamptz NOT NULL,
    agent_id      text        NOT NULL,
    queue         text        NOT NULL,
    calls         bigint      NOT NULL,
    handled       bigint      NOT NULL,
    talk_sum      double precision NOT NULL,
    hold_sum      double precision NOT NULL,
    wrap_up_sum   double precision NOT NULL,
    handle_sum    double precision NOT NULL,
    PRIMARY KEY (bucket_start, agent_id, queue)
);
COMMENT ON TABLE agent_rollup_15m IS 'Answered calls per agent, queue and 15-minute UTC bucket of answer time (recounted by the writer).';

CREATE FUNCTION records_quarter(p_ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_bin(interval '15 minutes', p_ts, timestamptz '2000-01-01 00:00:00+00')
$$;

-- Recounts the given entry buckets (queue rollup) and answer buckets (agent rollup).
CREATE FUNCTION records_refresh_rollups(p_entry_buckets timestamptz[], p_answer_buckets timestamptz[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    sl double precision := setting_numeric('metrics.service_level_seconds');
    sa double precision := setting_numeric('metrics.short_abandon_seconds');
BEGIN
    -- One refresher at a time, and the statements below start after the lock, so each recount sees
    -- every batch committed before it (two writers cannot overwrite each other's counts).
    PERFORM pg_advisory_xact_lock(4859203847562);
    IF cardinality(p_entry_buckets) > 0 THEN
        DELETE FROM queue_rollup_15m WHERE bucket_start = ANY (p_entry_buckets);
        INSERT INTO queue_rollup_15m
        SELECT records_quarter(v.entered_at), v.queue,
               count(*),
               count(*) FILTER (WHERE v.outcome = 'answered'),
               count(*) FILTER (WHERE v.outcome = 'answered' AND v.wait_seconds <= sl),
               count(*) FILTER (WHERE v.outcome = 'abandoned'),
               count(*) FILTER (WHERE v.outcome = 'abandoned' AND v.wait_seconds < sa),
               count(*) FILTER (WHERE v.outcome = 'timeout'),
               count(*) FILTER (WHERE v.outcome = 'exit_empty'),
               count(*) FILTER (WHERE v.outcome = 'exit_key'),
               count(*) FILTER (WHERE v.outcome = 'system_lost'),
               coalesce(sum(v.wait_seconds) FILTER (WHERE v.outcome = 'answered'), 0),
               count(*) FILTER (WHERE v.outcome = 'answered' AND v.handled),
               coalesce(sum(v.talk_seconds) FILTER (WHERE v.outcome = 'answered' AND v.handled), 0),
               coalesce(sum(v.hold_seconds) FILTER (WHERE v.outcome = 'answered' AND v.handled), 0),
               coalesce(sum(v.wrap_up_seconds) FILTER (WHERE v.outcome = 'answered' AND v.handled), 0),
               max(v.wait_seconds), sl, sa
        FROM queue_visits v
        WHERE v.entered_at >= (SELECT min(b) FROM unnest(p_entry_buckets) b)
          AND v.entered_at < (SELECT max(b) FROM unnest(p_entry_buckets) b) + interval '15 minutes'
          AND records_quarter(v.entered_at) = ANY (p_entry_buckets)
        GROUP BY 1, 2;
    END IF;
    IF cardinality(p_answer_buckets) > 0 THEN
        DELETE FROM agent_rollup_15m WHERE bucket_start = ANY (p_answer_buckets);
        INSERT INTO agent_rollup_15m
        SELECT records_quarter(v.answered_at), v.agent_id, v.queue, count(*),
               count(*) FILTER (WHERE v.handled),
               sum(v.talk_seconds), sum(v.hold_seconds), sum(v.wrap_up_seconds),
               coalesce(sum(v.talk_seconds + v.hold_seconds + v.wrap_up_seconds) FILTER (WHERE v.handled), 0)
        FROM queue_visits v
        WHERE v.answered_at >= (SELECT min(b) FROM unnest(p_answer_buckets) b)
          AND v.answered_at < (SELECT max(b) FROM unnest(p_answer_buckets) b) + interval '15 minutes'
          AND records_quarter(v.answered_at) = ANY (p_answer_buckets)
        GROUP BY 1, 2, 3;
    END IF;
END $$;

-- Recounts every bucket of [p_from, p_to) (after a threshold change, or to build the rollups of old data).
CREATE FUNCTION records_rebuild_rollups(p_from timestamptz, p_to timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    day timestamptz := records_quarter(p_from);
BEGIN
    -- A day at a time keeps each recount's arrays small.
    WHILE day < p_to LOOP
        PERFORM records_refresh_rollups(
            ARRAY(SELECT generate_series(day, least(day + interval '1 day', p_to) - interval '1 microsecond', interval '15 minutes')),
            ARRAY(SELECT generate_series(day, least(day + interval '1 day', p_to) - interval '1 microsecond', interval '15 minutes')));
        day := day + interval '1 day';
    END LOOP;
END $$;

-- Same report as migration 0003, now served from the rollup when it can be.
CREATE OR REPLACE FUNCTION report_queue_traffic(p_from timestamptz, p_to timestamptz, p_interval text DEFAULT '1h', p_queue text DEFAULT NULL)
RETURNS TABLE (
    interval_start timestamptz, queue text,
    offered bigint, answered bigint, answered_within_sl bigint,
    abandoned bigint, abandoned_short bigint, abandoned_long bigint,
    overflowed bigint, timeouts bigint, exits_empty bigint, exits_key bigint, system_lost bigint,
    service_level double precision, abandon_rate double precision, answer_rate double precision, loss_rate double precision,
    asa_seconds double precision, aht_seconds double precision, avg_talk_seconds double precision,
    avg_hold_seconds double precision, avg_wrap_up_seconds double precision, longest_wait_seconds double precision,
    service_level_seconds double precision, short_abandon_seconds double precision, definitions_version integer)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    tz text := setting_text('reports.time_zone');
    sl double precision := setting_numeric('metrics.service_level_seconds');
    sa double precision := setting_numeric('metrics.short_abandon_seconds');
    ver integer := setting_numeric('metrics.definitions_version')::integer;
BEGIN
    PERFORM report_check_args(p_from, p_to, p_interval);
    IF records_quarter(p_from) = p_from AND records_quarter(p_to) = p_to
       AND NOT EXISTS (SELECT 1 FROM queue_rollup_15m r WHERE r.bucket_start >= p_from AND r.bucket_start < p_to
                       AND (r.service_level_seconds <> sl OR r.short_abandon_seconds <> sa)) THEN
        RETURN QUERY
        WITH agg AS (
            SELECT report_bucket(r.bucket_start, p_interval, tz) AS b, r.queue AS q,
                   sum(r.offered)::bigint AS o, sum(r.answered)::bigint AS a, sum(r.answered_within_sl)::bigint AS a_t,
                   sum(r.abandoned)::bigint AS ab, sum(r.abandoned_short)::bigint AS ab_s, sum(r.timeouts)::bigint AS t_o,
                   sum(r.exits_empty)::bigint AS e_e, sum(r.exits_key)::bigint AS e_k, sum(r.system_lost)::bigint AS s_l,
                   sum(r.wait_answered_sum) AS wait_a, sum(r.handled)::bigint AS h, sum(r.talk_sum) AS talk,
                   sum(r.hold_sum) AS hold, sum(r.wrap_up_sum) AS wrap, max(r.longest_wait) AS longest
            FROM queue_rollup_15m r
            WHERE r.bucket_start >= p_from AND r.bucket_start < p_to AND (p_queue IS NULL OR r.queue = p_queue)
            GROUP BY 1, 2)
        SELECT b, q, o, a, a_t, ab, ab_s, ab - ab_s, t_o + e_e + e_k, t_o, e_e, e_k, s_l,
               a_t::float8 / nullif(o - ab_s, 0), (ab - ab_s)::float8 / nullif(o - ab_s, 0),
               a::float8 / nullif(o, 0), 1 - a::float8 / nullif(o, 0),
               CASE WHEN a > 0 THEN wait_a / a END,
               CASE WHEN h > 0 THEN (talk + hold + wrap) / h END,
               CASE WHEN h > 0 THEN talk / h END, CASE WHEN h > 0 THEN hold / h END, CASE WHEN h > 0 THEN wrap / h END,
               longest, sl, sa, ver
        FROM agg ORDER BY b, q;
        RETURN;
    END IF;

    RETURN QUERY
    WITH agg AS (
        SELECT report_bucket(v.entered_at, p_interval, tz) AS b, v.queue AS q,
               count(*) AS o,
               count(*) FILTER (WHERE v.outcome = 'answered') AS a,
               count(*) FILTER (WHERE v.outcome = 'answered' AND v.wait_seconds <= sl) AS a_t,
               count(*) FILTER (WHERE v.outcome = 'abandoned') AS ab,
               count(*) FILTER (WHERE v.outcome = 'abandoned' AND v.wait_seconds < sa) AS ab_s,
               count(*) FILTER (WHERE v.outcome = 'timeout') AS t_o,
               count(*) FILTER (WHERE v.outcome = 'exit_empty') AS e_e,
               count(*) FILTER (WHERE v.outcome = 'exit_key') AS e_k,
               count(*) FILTER (WHERE v.outcome = 'system_lost') AS s_l,
               sum(v.wait_seconds) FILTER (WHERE v.outcome = 'answered') AS wait_a,
               count(*) FILTER (WHERE v.outcome = 'answered' AND v.handled) AS h,
               sum(v.talk_seconds) FILTER (WHERE v.outcome = 'answered' AND v.handled) AS talk,
               sum(v.hold_seconds) FILTER (WHERE v.outcome = 'answered' AND v.handled) AS hold,
               sum(v.wrap_up_seconds) FILTER (WHERE v.outcome = 'answered' AND v.handled) AS wrap,
               max(v.wait_seconds) AS longest
        FROM queue_visits v
        WHERE v.entered_at >= p_from AND v.entered_at < p_to AND (p_queue IS NULL OR v.queue = p_queue)
        GROUP BY 1, 2)
    SELECT b, q, o, a, a_t, ab, ab_s, ab - ab_s, t_o + e_e + e_k, t_o, e_e, e_k, s_l,
           a_t::float8 / nullif(o - ab_s, 0), (ab - ab_s)::float8 / nullif(o - ab_s, 0),
           a::float8 / nullif(o, 0), 1 - a::float8 / nullif(o, 0),
           wait_a / nullif(a, 0), (talk + hold + wrap) / nullif(h, 0),
           talk / nullif(h, 0), hold / nullif(h, 0), wrap / nullif(h, 0),
           longest, sl, sa, ver
    FROM agg ORDER BY b, q;
END $$;

-- Same report as migration 0003; answered calls now come from agent_rollup_15m when the window is quarter-hour aligned.
-- Per agent and interval (docs/metrics.md §6). State time is split at interval boundaries and
-- clipped to the window; calls count by answer time; the queue filter applies to calls and
-- missed calls (agent state is not per queue).
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
BEGIN
    PERFORM report_check_args(p_from, p_to, p_interval);
    use_rollup := records_quarter(p_from) = p_from AND records_quarter(p_to) = p_to;
    step := report_interval_step(p_interval);
    RETURN QUERY
    WITH buckets AS (
        SELECT (g AT TIME ZONE tz) AS b_start, ((g + step) AT TIME ZONE tz) AS b_end
        FROM generate_series(report_bucket(p_from, p_interval, tz) AT TIME ZONE tz, p_to AT TIME ZONE tz, step) AS g
        WHERE (g AT TIME ZONE tz) < p_to),
    -- Intervals are at most one day long (the writer splits them), so one day of look-back finds every overlap.
    pieces AS (
        SELECT bk.b_start, s.agent_id, s.state, s.reason,
               extract(epoch FROM least(s.ended_at, bk.b_end, p_to) - greatest(s.started_at, bk.b_start, p_from))::float8 AS secs
        FROM agent_state_intervals s
        JOIN buckets bk ON s.started_at < bk.b_end AND s.ended_at > bk.b_start
        WHERE s.started_at >= p_from - interval '1 day' AND s.started_at < p_to AND s.ended_at > p_from
          AND (p_agent IS NULL OR s.agent_id = p_agent)),
    states AS (
        SELECT b_start, agent_id,
               sum(secs) AS logged,
               coalesce(sum(secs) FILTER (WHERE state = 'available'), 0) AS avail,
               coalesce(sum(secs) FILTER (WHERE state = 'ringing'), 0) AS ring,
               coalesce(sum(secs) FILTER (WHERE state = 'in_call'), 0) AS incall,
               coalesce(sum(secs) FILTER (WHERE state = 'wrap_up'), 0) AS wrapst,
               coalesce(sum(secs) FILTER (WHERE state = 'outbound'), 0) AS outb,
               coalesce(sum(secs) FILTER (WHERE state = 'paused'), 0) AS paused
        FROM pieces WHERE secs > 0 GROUP BY 1, 2),
    pauses AS (
        SELECT b_start, agent_id, jsonb_object_agg(coalesce(reason, ''), secs ORDER BY coalesce(reason, '')) AS by_reason
        FROM (SELECT b_start, agent_id, reason, sum(secs) AS secs FROM pieces WHERE state = 'paused' AND secs > 0 GROUP BY 1, 2, 3) p
        GROUP BY 1, 2),
    sessions AS (
        SELECT report_bucket(min(s.started_at), p_interval, tz) AS b_start, s.agent_id, s.session_id
        FROM agent_state_intervals s
        WHERE s.started_at >= p_from - interval '1 day' AND s.started_at < p_to AND (p_agent IS NULL OR s.agent_id = p_agent)
        GROUP BY s.agent_id, s.session_id
        HAVING min(s.started_at) >= p_from),
    logins AS (SELECT b_start, agent_id, count(*) AS n FROM sessions GROUP BY 1, 2),
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


-- Rollups for data written before this migration.
DO $$
DECLARE
    lo timestamptz;
    hi timestamptz;
BEGIN
    SELECT min(entered_at), max(coalesce(answered_at, entered_at)) INTO lo, hi FROM queue_visits;
    IF lo IS NOT NULL THEN
        PERFORM records_rebuild_rollups(lo, hi + interval '15 minutes');
    END IF;
END $$;
