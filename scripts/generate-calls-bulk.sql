-- Server-side bulk generator for the report and export benchmarks (docs/benchmarks.md, "Records
-- and reports"): :days days of :calls_per_day inbound calls from :first_day (call rows, queue
-- visits, agent state intervals), the same traffic shape as CallTrafficGenerator (answered ~85 %,
-- abandoned 10 % with a third short, timeouts, key exits), then the rollups of those days.
-- Much faster than going through the client writer, whose speed the ingest benchmark measures.
-- Usage (database migrated first, e.g. by scripts/generate-calls.sh with --days 0):
--   psql -v first_day=2026-01-01 -v days=30 -v calls_per_day=33334 -f scripts/generate-calls-bulk.sql
\set ON_ERROR_STOP on
SELECT setseed(0.42);
SELECT records_ensure_partitions(:'first_day'::timestamptz, :'first_day'::timestamptz + make_interval(days => :days));

CREATE TEMP TABLE g ON COMMIT DROP AS
SELECT 'b-' || to_char(d, 'YYYYMMDD') || '-' || i AS call_id,
       d + interval '8 hours' + random() * interval '12 hours' AS entered_at,
       q, random() AS roll, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
       '13' || (100000000 + floor(random() * 899999999))::bigint AS caller
FROM generate_series(:'first_day'::timestamptz, :'first_day'::timestamptz + make_interval(days => :days - 1), interval '1 day') AS d,
     generate_series(1, :calls_per_day) AS i,
     LATERAL (SELECT floor(random() * 8)::int + i * 0 AS q) AS qq;

CREATE TEMP TABLE v ON COMMIT DROP AS
SELECT call_id, entered_at, 'queue-' || lpad((q + 1)::text, 2, '0') AS queue, caller,
       CASE WHEN roll < 0.85 THEN 'answered' WHEN roll < 0.95 THEN 'abandoned' WHEN roll < 0.98 THEN 'timeout' ELSE 'exit_key' END AS outcome,
       CASE WHEN roll < 0.85 THEN round((-ln(1 - r1) * 18)::numeric, 1)::float8
            WHEN roll < 0.95 AND r2 < 0.33 THEN round((r1 * 5)::numeric, 1)::float8
            WHEN roll < 0.95 THEN round((5 - ln(1 - r1) * 40)::numeric, 1)::float8
            WHEN roll < 0.98 THEN 300
            ELSE round((10 + r1 * 60)::numeric, 1)::float8 END AS wait,
       'agent-' || lpad((q * 12 + floor(r3 * 12) + 1)::int::text, 3, '0') AS agent_id,
       round((60 + r2 * 420)::numeric, 1)::float8 AS talk,
       CASE WHEN r4 < 0.2 THEN round((10 + r4 * 250)::numeric, 1)::float8 ELSE 0 END AS hold,
       round((5 + r3 * 55)::numeric, 1)::float8 AS wrap
FROM g;

INSERT INTO calls (call_id, started_at, direction, did, caller, queues, enqueued_at, answered_at, ended_at, wait_seconds,
                   talk_seconds, hold_seconds, wrap_up_seconds, disposition, agent_id, released_by)
SELECT call_id, entered_at, 'inbound', '4008001000', caller, ARRAY[queue], entered_at,
       CASE WHEN outcome = 'answered' THEN entered_at + wait * interval '1 second' END,
       entered_at + (wait + CASE WHEN outcome = 'answered' THEN talk + hold ELSE 0 END) * interval '1 second',
       wait,
       CASE WHEN outcome = 'answered' THEN talk ELSE 0 END, CASE WHEN outcome = 'answered' THEN hold ELSE 0 END,
       CASE WHEN outcome = 'answered' THEN wrap ELSE 0 END,
       CASE outcome WHEN 'answered' THEN 'answered' WHEN 'abandoned' THEN 'abandoned' ELSE 'overflowed' END,
       CASE WHEN outcome = 'answered' THEN agent_id END, 'caller'
FROM v ORDER BY entered_at;

INSERT INTO queue_visits (call_id, queue, entered_at, outcome, left_at, answered_at, agent_id, entry_position, talk_seconds, hold_seconds, wrap_up_seconds, handled)
SELECT call_id, queue, entered_at, outcome, entered_at + wait * interval '1 second',
       CASE WHEN outcome = 'answered' THEN entered_at + wait * interval '1 second' END,
       CASE WHEN outcome = 'answered' THEN agent_id END, 1,
       CASE WHEN outcome = 'answered' THEN talk ELSE 0 END, CASE WHEN outcome = 'answered' THEN hold ELSE 0 END,
       CASE WHEN outcome = 'answered' THEN wrap ELSE 0 END, outcome = 'answered'
FROM v ORDER BY entered_at;

-- Agent states: per agent and opening hour available, in call, wrap-up, paused (as the C# generator).
INSERT INTO agent_state_intervals (agent_id, started_at, ended_at, state, reason, session_id)
SELECT a.agent_id, s.started_at, s.ended_at, s.state, s.reason, a.agent_id || '-' || to_char(h.hour_start, 'YYYYMMDD')
FROM generate_series(1, 96) AS n
CROSS JOIN LATERAL (SELECT 'agent-' || lpad(n::text, 3, '0') AS agent_id) AS a
CROSS JOIN generate_series(:'first_day'::timestamptz + interval '8 hours',
                           :'first_day'::timestamptz + make_interval(days => :days - 1) + interval '19 hours', interval '1 hour') AS h(hour_start)
CROSS JOIN LATERAL (SELECT 300 + floor(random() * 600) AS av, 1500 + floor(random() * 600) AS ic, 200 + floor(random() * 200) AS wu) AS d
CROSS JOIN LATERAL (VALUES
    (h.hour_start, h.hour_start + d.av * interval '1 second', 'available', NULL::text),
    (h.hour_start + d.av * interval '1 second', h.hour_start + (d.av + d.ic) * interval '1 second', 'in_call', NULL),
    (h.hour_start + (d.av + d.ic) * interval '1 second', h.hour_start + (d.av + d.ic + d.wu) * interval '1 second', 'wrap_up', NULL),
    (h.hour_start + (d.av + d.ic + d.wu) * interval '1 second', h.hour_start + interval '1 hour', 'paused',
     CASE WHEN extract(hour FROM h.hour_start) = 12 THEN 'lunch' ELSE 'rest' END)) AS s(started_at, ended_at, state, reason)
WHERE extract(hour FROM h.hour_start) BETWEEN 8 AND 19;

SELECT records_rebuild_rollups(:'first_day'::timestamptz, :'first_day'::timestamptz + make_interval(days => :days));
