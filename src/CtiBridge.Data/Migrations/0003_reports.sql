-- Reports as set-returning functions over the call records, implementing docs/metrics.md
-- (version in settings 'metrics.definitions_version'); column meanings in docs/reports.md.
-- Every report takes a half-open window [p_from, p_to) and, where it has intervals, one of
-- 15m | 30m | 1h | 1d | 1w | 1mo, cut in the time zone of setting 'reports.time_zone'.

-- Start of the report interval holding p_ts. Plain SQL so the planner inlines it per row.
CREATE FUNCTION report_bucket(p_ts timestamptz, p_interval text, p_tz text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE p_interval
        WHEN '15m' THEN date_bin(interval '15 minutes', p_ts AT TIME ZONE p_tz, timestamp '2000-01-01') AT TIME ZONE p_tz
        WHEN '30m' THEN date_bin(interval '30 minutes', p_ts AT TIME ZONE p_tz, timestamp '2000-01-01') AT TIME ZONE p_tz
        WHEN '1h'  THEN date_trunc('hour', p_ts AT TIME ZONE p_tz) AT TIME ZONE p_tz
        WHEN '1d'  THEN date_trunc('day', p_ts AT TIME ZONE p_tz) AT TIME ZONE p_tz
        WHEN '1w'  THEN date_trunc('week', p_ts AT TIME ZONE p_tz) AT TIME ZONE p_tz
        WHEN '1mo' THEN date_trunc('month', p_ts AT TIME ZONE p_tz) AT TIME ZONE p_tz
    END
$$;

-- Length of one report interval (for splitting agent state time at interval boundaries).
CREATE FUNCTION report_interval_step(p_interval text) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_interval
        WHEN '15m' THEN interval '15 minutes' WHEN '30m' THEN interval '30 minutes' WHEN '1h' THEN interval '1 hour'
        WHEN '1d' THEN interval '1 day' WHEN '1w' THEN interval '1 week' WHEN '1mo' THEN interval '1 month'
    END
$$;

-- Refuses a bad window or interval with a message that says what was wrong.
CREATE FUNCTION report_check_args(p_from timestamptz, p_to timestamptz, p_interval text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_from IS NULL OR p_to IS NULL THEN
        RAISE EXCEPTION 'report window needs both from and to';
    END IF;
    IF p_to <= p_from THEN
        RAISE EXCEPTION 'report window is empty: to (%) must be after from (%)', p_to, p_from;
    END IF;
    IF p_interval IS NOT NULL AND p_interval NOT IN ('15m', '30m', '1h', '1d', '1w', '1mo') THEN
        RAISE EXCEPTION 'unknown report interval ''%'': expected 15m, 30m, 1h, 1d, 1w or 1mo', p_interval;
    END IF;
END $$;

-- Interval traffic per queue (docs/metrics.md §4), counted by queue-entry time.
CREATE FUNCTION report_queue_traffic(p_from timestamptz, p_to timestamptz, p_interval text DEFAULT '1h', p_queue text DEFAULT NULL)
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
           a_t::float8 / nullif(o - ab_s, 0),
           (ab - ab_s)::float8 / nullif(o - ab_s, 0),
           a::float8 / nullif(o, 0),
           1 - a::float8 / nullif(o, 0),
           wait_a / nullif(a, 0),
           (talk + hold + wrap) / nullif(h, 0),
           talk / nullif(h, 0), hold / nullif(h, 0), wrap / nullif(h, 0),
           longest, sl, sa, ver
    FROM agg
    ORDER BY b, q;
END $$;

-- Centre-level traffic (docs/metrics.md §7): every call once, by call start time.
CREATE FUNCTION report_centre_traffic(p_from timestamptz, p_to timestamptz, p_interval text DEFAULT '1d')
RETURNS TABLE (
    interval_start timestamptz, inbound_calls bigint, answered bigint, ivr_completed bigint, abandoned bigint,
    ivr_abandoned bigint, overflowed bigint, voicemail bigint, system_lost bigint,
    answer_rate double precision, customer_loss_rate double precision,
    outbound_calls bigint, outbound_answered bigint, outbound_answer_rate double precision, definitions_version integer)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    tz text := setting_text('reports.time_zone');
    ver integer := setting_numeric('metrics.definitions_version')::integer;
BEGIN
    PERFORM report_check_args(p_from, p_to, p_interval);
    RETURN QUERY
    WITH agg AS (
        SELECT report_bucket(c.started_at, p_interval, tz) AS b,
               count(*) FILTER (WHERE c.direction = 'inbound') AS n,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'answered') AS a,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'ivr_completed') AS ivr,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'abandoned') AS ab,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'ivr_abandoned') AS ivr_ab,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'overflowed') AS ov,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'voicemail') AS vm,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'system_lost') AS sl,
               count(*) FILTER (WHERE c.direction = 'outbound') AS out_n,
               count(*) FILTER (WHERE c.direction = 'outbound' AND c.disposition = 'answered') AS out_a
        FROM calls c
        WHERE c.started_at >= p_from AND c.started_at < p_to
        GROUP BY 1)
    SELECT b, n, a, ivr, ab, ivr_ab, ov, vm, sl,
           (a + ivr)::float8 / nullif(n, 0),
           1 - (a + ivr)::float8 / nullif(n, 0),
           out_n, out_a, out_a::float8 / nullif(out_n, 0), ver
    FROM agg
    ORDER BY b;
END $$;

-- Per agent and interval (docs/metrics.md §6). State time is split at interval boundaries and
-- clipped to the window; calls count by answer time; the queue filter applies to calls and
-- missed calls (agent state is not per queue).
CREATE FUNCTION report_agent_activity(p_from timestamptz, p_to timestamptz, p_interval text DEFAULT '1d', p_agent text DEFAULT NULL, p_queue text DEFAULT NULL)
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
BEGIN
    PERFORM report_check_args(p_from, p_to, p_interval);
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
        SELECT report_bucket(v.answered_at, p_interval, tz) AS b_start, v.agent_id,
               count(*) AS n, sum(v.talk_seconds) AS talk, sum(v.hold_seconds) AS hold, sum(v.wrap_up_seconds) AS wrap,
               count(*) FILTER (WHERE v.handled) AS n_h,
               sum(v.talk_seconds + v.hold_seconds + v.wrap_up_seconds) FILTER (WHERE v.handled) AS handle
        FROM queue_visits v
        WHERE v.answered_at >= p_from AND v.answered_at < p_to
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
               h.handle / nullif(h.n_h, 0) AS aht,
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

-- Agent state log (示忙示闲记录): every state interval overlapping the window, clipped to it.
CREATE FUNCTION report_agent_state_log(p_from timestamptz, p_to timestamptz, p_agent text DEFAULT NULL)
RETURNS TABLE (agent_id text, session_id text, state text, reason text, started_at timestamptz, ended_at timestamptz, duration_seconds double precision)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    PERFORM report_check_args(p_from, p_to, NULL);
    RETURN QUERY
    SELECT s.agent_id, s.session_id, s.state, s.reason, greatest(s.started_at, p_from), least(s.ended_at, p_to),
           extract(epoch FROM least(s.ended_at, p_to) - greatest(s.started_at, p_from))::float8
    FROM agent_state_intervals s
    WHERE s.started_at >= p_from - interval '1 day' AND s.started_at < p_to AND s.ended_at > p_from
      AND (p_agent IS NULL OR s.agent_id = p_agent)
    ORDER BY s.agent_id, s.started_at;
END $$;

-- Abandonment curve: abandons (queue visits, by entry time) per wait bucket of p_bucket_seconds.
CREATE FUNCTION report_abandon_curve(p_from timestamptz, p_to timestamptz, p_queue text DEFAULT NULL, p_bucket_seconds integer DEFAULT 10)
RETURNS TABLE (wait_from_seconds integer, wait_to_seconds integer, abandoned bigint, cumulative_abandoned bigint, share double precision, cumulative_share double precision)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    PERFORM report_check_args(p_from, p_to, NULL);
    IF p_bucket_seconds IS NULL OR p_bucket_seconds < 1 THEN
        RAISE EXCEPTION 'abandon curve bucket must be at least 1 second, got %', p_bucket_seconds;
    END IF;
    RETURN QUERY
    WITH b AS (
        SELECT floor(v.wait_seconds / p_bucket_seconds)::integer AS k, count(*) AS n
        FROM queue_visits v
        WHERE v.outcome = 'abandoned' AND v.entered_at >= p_from AND v.entered_at < p_to AND (p_queue IS NULL OR v.queue = p_queue)
        GROUP BY 1)
    SELECT k * p_bucket_seconds, (k + 1) * p_bucket_seconds, n,
           (sum(n) OVER (ORDER BY k))::bigint,
           n::float8 / sum(n) OVER (),
           (sum(n) OVER (ORDER BY k))::float8 / sum(n) OVER ()
    FROM b ORDER BY k;
END $$;

-- Satisfaction per interval (docs/metrics.md §8), by answer time of the survey.
CREATE FUNCTION report_satisfaction(p_from timestamptz, p_to timestamptz, p_interval text DEFAULT '1d', p_queue text DEFAULT NULL, p_agent text DEFAULT NULL)
RETURNS TABLE (interval_start timestamptz, answers bigint, satisfied bigint, satisfaction_rate double precision,
               average_score_fraction double precision, target double precision, meets_target boolean, definitions_version integer)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    tz text := setting_text('reports.time_zone');
    min_fraction double precision := setting_numeric('metrics.satisfied_min_fraction');
    tgt double precision := setting_numeric('metrics.satisfaction_target');
    ver integer := setting_numeric('metrics.definitions_version')::integer;
BEGIN
    PERFORM report_check_args(p_from, p_to, p_interval);
    RETURN QUERY
    SELECT report_bucket(s.answered_at, p_interval, tz), count(*),
           count(*) FILTER (WHERE s.score::float8 / s.scale_max >= min_fraction),
           (count(*) FILTER (WHERE s.score::float8 / s.scale_max >= min_fraction))::float8 / count(*),
           avg(s.score::float8 / s.scale_max), tgt,
           (count(*) FILTER (WHERE s.score::float8 / s.scale_max >= min_fraction))::float8 / count(*) >= tgt,
           ver
    FROM survey_answers s
    WHERE s.answered_at >= p_from AND s.answered_at < p_to
      AND (p_queue IS NULL OR s.queue = p_queue) AND (p_agent IS NULL OR s.agent_id = p_agent)
    GROUP BY 1 ORDER BY 1;
END $$;

-- Satisfaction distribution: answers per score.
CREATE FUNCTION report_satisfaction_distribution(p_from timestamptz, p_to timestamptz, p_queue text DEFAULT NULL, p_agent text DEFAULT NULL)
RETURNS TABLE (scale_max smallint, score smallint, answers bigint, share double precision)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    PERFORM report_check_args(p_from, p_to, NULL);
    RETURN QUERY
    SELECT s.scale_max, s.score, count(*), count(*)::float8 / sum(count(*)) OVER (PARTITION BY s.scale_max)
    FROM survey_answers s
    WHERE s.answered_at >= p_from AND s.answered_at < p_to
      AND (p_queue IS NULL OR s.queue = p_queue) AND (p_agent IS NULL OR s.agent_id = p_agent)
    GROUP BY 1, 2 ORDER BY 1, 2;
END $$;

-- Caller origin: region from the longest matching number prefix (table loaded from the admin's CSV).
CREATE TABLE number_prefixes (
    prefix  text PRIMARY KEY CHECK (prefix ~ '^[0-9+]{1,16}$'),
    region  text NOT NULL,
    carrier text
);
COMMENT ON TABLE number_prefixes IS 'Number prefix -> region (归属地) table, loaded from a CSV the administrator provides (prefix,region[,carrier]).';

CREATE FUNCTION report_caller_origin(p_from timestamptz, p_to timestamptz, p_queue text DEFAULT NULL)
RETURNS TABLE (region text, calls bigint, answered bigint, answer_rate double precision, share double precision)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    PERFORM report_check_args(p_from, p_to, NULL);
    RETURN QUERY
    WITH c AS (
        SELECT coalesce(r.region, 'unknown') AS region, ca.disposition
        FROM calls ca
        LEFT JOIN LATERAL (
            SELECT np.region FROM generate_series(least(length(ca.caller), 16), 1, -1) AS n
            JOIN number_prefixes np ON np.prefix = left(ca.caller, n)
            ORDER BY n DESC LIMIT 1) r ON true
        WHERE ca.direction = 'inbound' AND ca.started_at >= p_from AND ca.started_at < p_to
          AND (p_queue IS NULL OR p_queue = ANY (ca.queues)))
    SELECT c.region, count(*), count(*) FILTER (WHERE c.disposition IN ('answered', 'ivr_completed')),
           (count(*) FILTER (WHERE c.disposition IN ('answered', 'ivr_completed')))::float8 / count(*),
           count(*)::float8 / sum(count(*)) OVER ()
    FROM c GROUP BY c.region ORDER BY count(*) DESC, c.region;
END $$;

-- Calling time of day: inbound calls per hour of the day (and day of week), averaged over the days in the window.
CREATE FUNCTION report_calls_by_hour(p_from timestamptz, p_to timestamptz, p_queue text DEFAULT NULL)
RETURNS TABLE (iso_day_of_week integer, hour_of_day integer, calls bigint, answered bigint, answer_rate double precision)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    tz text := setting_text('reports.time_zone');
BEGIN
    PERFORM report_check_args(p_from, p_to, NULL);
    RETURN QUERY
    SELECT extract(isodow FROM c.started_at AT TIME ZONE tz)::integer, extract(hour FROM c.started_at AT TIME ZONE tz)::integer,
           count(*), count(*) FILTER (WHERE c.disposition IN ('answered', 'ivr_completed')),
           (count(*) FILTER (WHERE c.disposition IN ('answered', 'ivr_completed')))::float8 / count(*)
    FROM calls c
    WHERE c.direction = 'inbound' AND c.started_at >= p_from AND c.started_at < p_to AND (p_queue IS NULL OR p_queue = ANY (c.queues))
    GROUP BY 1, 2 ORDER BY 1, 2;
END $$;

-- Week-over-week trend per queue: this week's figures next to the previous week's.
CREATE FUNCTION report_queue_trend(p_from timestamptz, p_to timestamptz, p_queue text DEFAULT NULL)
RETURNS TABLE (week_start timestamptz, queue text, offered bigint, answer_rate double precision, service_level double precision,
               aht_seconds double precision, previous_offered bigint, previous_answer_rate double precision,
               previous_service_level double precision, previous_aht_seconds double precision, offered_change double precision)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH w AS (SELECT * FROM report_queue_traffic(p_from, p_to, '1w', p_queue))
    SELECT w.interval_start, w.queue, w.offered, w.answer_rate, w.service_level, w.aht_seconds,
           lag(w.offered) OVER q, lag(w.answer_rate) OVER q, lag(w.service_level) OVER q, lag(w.aht_seconds) OVER q,
           w.offered::float8 / nullif(lag(w.offered) OVER q, 0) - 1
    FROM w
    WINDOW q AS (PARTITION BY w.queue ORDER BY w.interval_start)
    ORDER BY w.interval_start, w.queue;
END $$;

-- Asterisk-style CDR (cdr_pgsql column layout) so existing CDR tools can read the calls.
CREATE VIEW cdr AS
SELECT c.started_at AS calldate,
       format('"%s" <%s>', coalesce(c.caller, ''), coalesce(c.caller, '')) AS clid,
       coalesce(c.caller, '') AS src,
       coalesce(c.callee, c.did, '') AS dst,
       coalesce(c.queues[1], CASE c.direction WHEN 'inbound' THEN 'inbound' ELSE 'outbound' END) AS dcontext,
       coalesce(cust.channel, '') AS channel,
       coalesce(ag.channel, '') AS dstchannel,
       CASE WHEN cardinality(c.queues) > 0 THEN 'Queue' ELSE 'Dial' END AS lastapp,
       coalesce(c.queues[1], '') AS lastdata,
       floor(extract(epoch FROM c.ended_at - c.started_at))::integer AS duration,
       CASE WHEN c.answered_at IS NULL THEN 0 ELSE floor(extract(epoch FROM c.ended_at - c.answered_at))::integer END AS billsec,
       CASE WHEN c.disposition IN ('answered', 'ivr_completed', 'voicemail') THEN 'ANSWERED'
            WHEN c.disposition = 'busy' THEN 'BUSY'
            WHEN c.disposition IN ('failed', 'system_lost') THEN 'FAILED'
            ELSE 'NO ANSWER' END AS disposition,
       3 AS amaflags,
       coalesce(c.account_code, '') AS accountcode,
       c.call_id AS uniqueid,
       c.disposition AS userfield,
       c.call_id AS linkedid,
       coalesce(c.agent_id, '') AS agent
FROM calls c
LEFT JOIN LATERAL (SELECT l.channel FROM call_legs l WHERE l.call_id = c.call_id AND l.party = 'customer' ORDER BY l.started_at LIMIT 1) cust ON true
LEFT JOIN LATERAL (SELECT l.channel FROM call_legs l WHERE l.call_id = c.call_id AND l.party = 'agent' ORDER BY l.answered_at NULLS LAST, l.started_at LIMIT 1) ag ON true;
COMMENT ON VIEW cdr IS 'Asterisk cdr_pgsql-compatible view of calls (amaflags 3 = DOCUMENTATION; userfield = CtiBridge disposition).';
