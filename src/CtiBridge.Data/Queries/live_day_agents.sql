-- Today's agent figures already in the call records, [@from, @to), by report_agent_activity's rules
-- (docs/metrics.md §6) for what the live statistics count from the ACD's events: logins (sessions
-- starting in the window), state time split at the window's edges and pause time per reason, inbound
-- queue calls by answer time with the talk, hold and wrap-up of the handled ones, missed calls
-- (RINGNOANSWER). The agents' outbound calls are added apart (agent_outbound_calls_since); the
-- dialer's 'outbound' state time has no live counterpart.
WITH states AS (
    SELECT s.agent_id, s.state, coalesce(s.reason, '') AS reason,
           sum(extract(epoch FROM least(s.ended_at, @to) - greatest(s.started_at, @from)))::float8 AS secs
    FROM agent_state_intervals s
    -- Intervals are at most one day long (the writer splits them): one day of look-back finds every overlap.
    WHERE s.started_at >= @from - interval '1 day' AND s.started_at < @to AND s.ended_at > @from
    GROUP BY 1, 2, 3
),
state_sums AS (
    SELECT agent_id,
           coalesce(sum(secs) FILTER (WHERE state = 'available'), 0) AS available,
           coalesce(sum(secs) FILTER (WHERE state = 'ringing'), 0) AS ringing,
           coalesce(sum(secs) FILTER (WHERE state = 'in_call'), 0) AS in_call,
           coalesce(sum(secs) FILTER (WHERE state = 'wrap_up'), 0) AS wrap_up_state,
           coalesce(sum(secs) FILTER (WHERE state = 'paused'), 0) AS paused,
           coalesce(jsonb_object_agg(reason, secs) FILTER (WHERE state = 'paused'), '{}'::jsonb) AS pause_by_reason
    FROM states GROUP BY agent_id
),
sessions AS (
    SELECT s.agent_id, s.session_id
    FROM agent_state_intervals s
    WHERE s.started_at >= @from - interval '1 day' AND s.started_at < @to
    GROUP BY s.agent_id, s.session_id
    HAVING min(s.started_at) >= @from
),
logins AS (SELECT agent_id, count(*) AS n FROM sessions GROUP BY agent_id),
calls AS (
    SELECT v.agent_id, count(*) AS n, count(*) FILTER (WHERE v.handled) AS handled,
           coalesce(sum(v.talk_seconds) FILTER (WHERE v.handled), 0) AS talk,
           coalesce(sum(v.hold_seconds) FILTER (WHERE v.handled), 0) AS hold,
           coalesce(sum(v.wrap_up_seconds) FILTER (WHERE v.handled), 0) AS wrap_up
    FROM queue_visits v
    WHERE v.answered_at >= @from AND v.answered_at < @to
    GROUP BY v.agent_id
),
missed AS (
    SELECT e.agent AS agent_id, count(*) AS n
    FROM queue_events e
    WHERE e.event = 'RINGNOANSWER' AND e.event_time >= @from AND e.event_time < @to
    GROUP BY e.agent
),
agents AS (
    SELECT agent_id FROM state_sums UNION SELECT agent_id FROM logins UNION SELECT agent_id FROM calls UNION SELECT agent_id FROM missed
)
SELECT a.agent_id, coalesce(l.n, 0) AS logins, coalesce(c.n, 0) AS calls, coalesce(m.n, 0) AS missed,
       coalesce(c.handled, 0) AS handled, coalesce(c.talk, 0) AS talk, coalesce(c.hold, 0) AS hold, coalesce(c.wrap_up, 0) AS wrap_up,
       coalesce(s.available, 0) AS available, coalesce(s.ringing, 0) AS ringing, coalesce(s.in_call, 0) AS in_call,
       coalesce(s.wrap_up_state, 0) AS wrap_up_state, coalesce(s.paused, 0) AS paused, coalesce(s.pause_by_reason, '{}'::jsonb)::text AS pause_by_reason
FROM agents a
LEFT JOIN state_sums s USING (agent_id)
LEFT JOIN logins l USING (agent_id)
LEFT JOIN calls c USING (agent_id)
LEFT JOIN missed m USING (agent_id)
ORDER BY a.agent_id
