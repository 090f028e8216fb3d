-- Server-side bulk generator of a realistic agent state log (docs/benchmarks.md, "Records and
-- reports"): 96 agents logged in 08:00–20:00 each day of [:first_day, :first_day + :days), each
-- hour :calls_per_agent_hour cycles of available → ringing → in call → wrap-up (four intervals per
-- call, as the ACD writes them), a lunch pause from 12:00 to 13:00 and a short rest pause in the
-- 16:00 hour. One login session per agent and day. Intervals already stored for those days are
-- replaced; the rollups of the days are recounted.
-- Usage (migrated database):
--   psql -v first_day=2026-06-01 -v days=30 -v calls_per_agent_hour=24 -f scripts/generate-agent-states-bulk.sql
\set ON_ERROR_STOP on
SELECT setseed(0.24);
SELECT records_ensure_partitions(:'first_day'::timestamptz, :'first_day'::timestamptz + make_interval(days => :days));
DELETE FROM agent_state_intervals
WHERE started_at >= :'first_day'::timestamptz AND started_at < :'first_day'::timestamptz + make_interval(days => :days);

INSERT INTO agent_state_intervals (agent_id, started_at, ended_at, state, reason, session_id)
SELECT a.agent_id, s.started_at, s.ended_at, s.state, s.reason, a.agent_id || '-' || to_char(h.hour_start, 'YYYYMMDD')
FROM generate_series(1, 96) AS n
CROSS JOIN LATERAL (SELECT 'agent-' || lpad(n::text, 3, '0') AS agent_id) AS a
CROSS JOIN generate_series(:'first_day'::timestamptz + interval '8 hours',
                           :'first_day'::timestamptz + make_interval(days => :days - 1) + interval '19 hours', interval '1 hour') AS h(hour_start)
CROSS JOIN LATERAL (SELECT extract(hour FROM h.hour_start) AS hour, 3600.0 / :calls_per_agent_hour AS cycle) AS k
CROSS JOIN LATERAL (
    -- Lunch: the whole 12:00 hour.
    SELECT h.hour_start AS started_at, h.hour_start + interval '1 hour' AS ended_at, 'paused' AS state, 'lunch' AS reason
    WHERE k.hour = 12
    UNION ALL
    -- Otherwise call cycles; the 16:00 hour ends with a rest pause instead of its last two cycles.
    SELECT c.t0 + p.a * interval '1 second', c.t0 + p.b * interval '1 second', p.state, p.reason
    FROM generate_series(0, :calls_per_agent_hour - 1) AS i
    CROSS JOIN LATERAL (SELECT h.hour_start + i * k.cycle * interval '1 second' AS t0,
                               5 + random() * 25 AS av, 2 + random() * 8 AS rg, 10 + random() * 25 AS wu) AS c
    CROSS JOIN LATERAL (VALUES
        (0.0, c.av, 'available', NULL::text),
        (c.av, c.av + c.rg, 'ringing', NULL),
        (c.av + c.rg, k.cycle - c.wu, 'in_call', NULL),
        (k.cycle - c.wu, k.cycle, 'wrap_up', NULL)) AS p(a, b, state, reason)
    WHERE k.hour <> 12 AND NOT (k.hour = 16 AND i >= :calls_per_agent_hour - 2)
    UNION ALL
    SELECT h.hour_start + (:calls_per_agent_hour - 2) * k.cycle * interval '1 second', h.hour_start + interval '1 hour', 'paused', 'rest'
    WHERE k.hour = 16
) AS s
WHERE k.hour BETWEEN 8 AND 19;

SELECT records_rebuild_rollups(:'first_day'::timestamptz, :'first_day'::timestamptz + make_interval(days => :days));
