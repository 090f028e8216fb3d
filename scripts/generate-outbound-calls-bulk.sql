-- Server-side bulk generator of agents' outbound calls (campaign calls of a dialer) for the report
-- benchmarks (docs/benchmarks.md, "Records and reports"): :days days of :calls_per_day outbound
-- dial attempts from :first_day, spread over the same 96 agents and opening hours (08:00-20:00) as
-- generate-calls-bulk.sql. About 60 % are answered by a person and talked on by an agent (the rows
-- report_agent_activity counts as the agent's outbound calls since metrics definitions version 3,
-- found through the partial index calls_agent_outbound_answered); the rest are no-answer, busy,
-- failed and answering machines, which the agent report must skip.
-- Usage (database migrated to 0032 or later, inbound traffic generated first):
--   psql -v first_day=2026-06-01 -v days=30 -v calls_per_day=20000 -f scripts/generate-outbound-calls-bulk.sql
\set ON_ERROR_STOP on
SELECT setseed(0.24);
SELECT records_ensure_partitions(:'first_day'::timestamptz, :'first_day'::timestamptz + make_interval(days => :days));

CREATE TEMP TABLE o ON COMMIT DROP AS
SELECT 'o-' || to_char(d, 'YYYYMMDD') || '-' || i AS call_id,
       d + interval '8 hours' + random() * interval '12 hours' AS started_at,
       random() AS roll, random() AS r1, random() AS r2, random() AS r3,
       '13' || (100000000 + floor(random() * 899999999))::bigint AS callee,
       'campaign-' || (1 + floor(random() * 4))::int AS campaign_id
FROM generate_series(:'first_day'::timestamptz, :'first_day'::timestamptz + make_interval(days => :days - 1), interval '1 day') AS d,
     generate_series(1, :calls_per_day) AS i;

INSERT INTO calls (call_id, started_at, revision, direction, caller, callee, answered_at, ended_at, wait_seconds,
                   talk_seconds, hold_seconds, wrap_up_seconds, disposition, agent_id, released_by, campaign_id, lead_id)
SELECT call_id, started_at,
       -- An answered call's row is written again with the wrap-up (revision 1): it counts as handled.
       CASE WHEN roll < 0.6 THEN 1 ELSE 0 END,
       'outbound', '4008001000', callee,
       CASE WHEN roll < 0.6 THEN started_at + (8 + r1 * 20) * interval '1 second' END,
       started_at + CASE WHEN roll < 0.6 THEN (8 + r1 * 20 + 30 + r2 * 300) ELSE 10 + r1 * 30 END * interval '1 second',
       CASE WHEN roll < 0.6 THEN round((r3 * 1.5)::numeric, 2)::float8 END,
       CASE WHEN roll < 0.6 THEN round((30 + r2 * 300)::numeric, 1)::float8 ELSE 0 END,
       0,
       CASE WHEN roll < 0.6 THEN round((3 + r3 * 30)::numeric, 1)::float8 ELSE 0 END,
       CASE WHEN roll < 0.6 THEN 'answered' WHEN roll < 0.8 THEN 'no_answer' WHEN roll < 0.9 THEN 'busy'
            WHEN roll < 0.97 THEN 'voicemail' ELSE 'failed' END,
       CASE WHEN roll < 0.6 THEN 'agent-' || lpad((1 + floor(r3 * 96))::int::text, 3, '0') END,
       CASE WHEN roll < 0.6 THEN 'agent' ELSE 'system' END,
       campaign_id, 'lead-' || call_id
FROM o ORDER BY started_at;

-- The agents' outbound-call rollup of these days (migration 0032), as the writer keeps it.
SELECT records_refresh_agent_outbound_rollups(ARRAY(SELECT generate_series(d, d + interval '1 day' - interval '1 microsecond', interval '15 minutes')))
FROM generate_series(:'first_day'::timestamptz, :'first_day'::timestamptz + make_interval(days => :days - 1), interval '1 day') AS d;
