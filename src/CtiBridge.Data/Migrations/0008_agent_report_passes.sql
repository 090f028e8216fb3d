-- Same report as migrations 0003/0005, computed in fewer passes: each state interval is split only
-- into the report intervals it covers (one bucket for almost all), and the state and pause sums
-- come from one aggregation of the pieces instead of two scans (month report: docs/benchmarks.md).
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
    WITH pieces AS (
        SELECT (g AT TIME ZONE tz) AS b_start, s.agent_id, s.state, s.reason,
               extract(epoch FROM least(s.ended_at, (g + step) AT TIME ZONE tz, p_to)
                                - greatest(s.started_at, g AT TIME ZONE tz, p_from))::float8 AS secs
        FROM agent_state_intervals s
        CROSS JOIN LATERAL generate_series(report_bucket(greatest(s.started_at, p_from), p_interval, tz) AT TIME ZONE tz,
                                           least(s.ended_at, p_to) AT TIME ZONE tz - interval '1 microsecond', step) AS g
        -- Intervals are at most one day long (the writer splits them), so one day of look-back finds every overlap.
        WHERE s.started_at >= p_from - interval '1 day' AND s.started_at < p_to AND s.ended_at > p_from
          AND (p_agent IS NULL OR s.agent_id = p_agent)),
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


-- JIT compilation costs more than it saves on these reports: the planner's row estimates for the
-- set-returning pieces are large, JIT kicks in and compiling took seconds on a loaded 2-core
-- machine, while the queries themselves run in well under a second (docs/benchmarks.md).
ALTER FUNCTION report_queue_traffic(timestamptz, timestamptz, text, text) SET jit = off;
ALTER FUNCTION report_centre_traffic(timestamptz, timestamptz, text) SET jit = off;
ALTER FUNCTION report_agent_activity(timestamptz, timestamptz, text, text, text) SET jit = off;
ALTER FUNCTION report_agent_state_log(timestamptz, timestamptz, text) SET jit = off;
ALTER FUNCTION report_abandon_curve(timestamptz, timestamptz, text, integer) SET jit = off;
ALTER FUNCTION report_satisfaction(timestamptz, timestamptz, text, text, text) SET jit = off;
ALTER FUNCTION report_satisfaction_distribution(timestamptz, timestamptz, text, text) SET jit = off;
ALTER FUNCTION report_caller_origin(timestamptz, timestamptz, text) SET jit = off;
ALTER FUNCTION report_calls_by_hour(timestamptz, timestamptz, text) SET jit = off;
ALTER FUNCTION report_queue_trend(timestamptz, timestamptz, text) SET jit = off;
ALTER FUNCTION report_qa_pass_rate(timestamptz, timestamptz, text) SET jit = off;
ALTER FUNCTION records_refresh_rollups(timestamptz[], timestamptz[]) SET jit = off;
