-- The hourly agent-state recount of 0009 with plans that stay bounded for any set of hours.
-- 0009 joined the hours to the state log; for a day of hours the planner could scan the whole
-- log and, worse, push the "first interval of a session" check down to every interval of it
-- (a month's rebuild ran for over half an hour). Here the candidate intervals are found first,
-- by the range index over the span of the hours, and the session check runs on those only.
CREATE OR REPLACE FUNCTION records_refresh_agent_state_rollups(p_hours timestamptz[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    lo timestamptz;
    hi timestamptz;
BEGIN
    IF cardinality(p_hours) = 0 THEN
        RETURN;
    END IF;
    SELECT min(h), max(h) + interval '1 hour' INTO lo, hi FROM unnest(p_hours) AS h;
    -- One refresher at a time, as records_refresh_rollups (its own key: the two never wait on each other).
    PERFORM pg_advisory_xact_lock(4859203847563);
    DELETE FROM agent_state_rollup_1h WHERE bucket_start = ANY (p_hours);
    INSERT INTO agent_state_rollup_1h
    SELECT h, s.agent_id, s.state, coalesce(s.reason, ''),
           sum(extract(epoch FROM least(s.ended_at, h + interval '1 hour') - greatest(s.started_at, h)))::float8
    FROM agent_state_intervals s
    CROSS JOIN LATERAL generate_series(date_trunc('hour', s.started_at, 'UTC'), s.ended_at - interval '1 microsecond', interval '1 hour') AS h
    -- Intervals overlapping the span (range index); they last at most a day (split at UTC
    -- midnight), which bounds started_at for partition pruning.
    WHERE tstzrange(s.started_at, s.ended_at) && tstzrange(lo, hi)
      AND s.started_at >= lo - interval '1 day' AND s.started_at < hi
      AND h = ANY (p_hours)
    GROUP BY 1, 2, 3, 4;

    DELETE FROM agent_login_rollup_1h WHERE bucket_start = ANY (p_hours);
    INSERT INTO agent_login_rollup_1h
    WITH started AS MATERIALIZED (
        SELECT s.agent_id, s.started_at, s.session_id
        FROM agent_state_intervals s
        WHERE s.started_at >= lo AND s.started_at < hi AND date_trunc('hour', s.started_at, 'UTC') = ANY (p_hours))
    SELECT date_trunc('hour', c.started_at, 'UTC'), c.agent_id, count(*)
    FROM started c
    -- A session's first interval: the agent's previous interval (within a day) is of another session, or there is none.
    WHERE (SELECT p.session_id FROM agent_state_intervals p
           WHERE p.agent_id = c.agent_id AND p.started_at < c.started_at AND p.started_at >= c.started_at - interval '1 day'
           ORDER BY p.started_at DESC LIMIT 1) IS DISTINCT FROM c.session_id
    GROUP BY 1, 2;
END $$;
ALTER FUNCTION records_refresh_agent_state_rollups(timestamptz[]) SET jit = off;
