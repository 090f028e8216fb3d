-- The demo's closing summary: what happened since the run started, one row per figure (label, value).
-- scripts/demo.sh runs it with psql (-v from=<run start, UTC>); DemoScriptTests runs this same file
-- (with :'from' as a parameter) and compares, so the two never count differently.
WITH inbound AS (
    SELECT count(*) AS calls,
           count(*) FILTER (WHERE disposition = 'answered') AS answered,
           count(*) FILTER (WHERE disposition IN ('abandoned', 'ivr_abandoned')) AS abandoned
      FROM calls
     WHERE direction = 'inbound' AND started_at >= :'from'::timestamptz
), promised AS (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE source = 'queue') AS by_key,
           count(*) FILTER (WHERE source = 'abandoned') AS after_abandon,
           count(*) FILTER (WHERE state = 'connected') AS kept,
           count(*) FILTER (WHERE state IN ('scheduled', 'due', 'dialing', 'retry')) AS still_open
      FROM callbacks
     WHERE created_at >= :'from'::timestamptz
), callback_calls AS (
    SELECT count(*) AS dialled
      FROM calls
     WHERE callback_id IS NOT NULL AND started_at >= :'from'::timestamptz
), dialer AS (
    SELECT count(*) AS attempts,
           count(*) FILTER (WHERE answered_by = 'HumanAnswer') AS live_answers,
           count(*) FILTER (WHERE answered_by = 'HumanAnswer' AND agent_id IS NOT NULL AND agent_connected_at IS NOT NULL) AS connected,
           count(*) FILTER (WHERE answered_by = 'Machine') AS machines,
           count(*) FILTER (WHERE abandoned) AS abandoned
      FROM dialer_attempts
     WHERE dialed_at >= :'from'::timestamptz
)
SELECT label, value FROM (
    SELECT 1 AS n, 'inbound calls' AS label, calls::text AS value FROM inbound
    UNION ALL SELECT 2, 'inbound answered by an agent', answered::text FROM inbound
    UNION ALL SELECT 3, 'inbound abandoned', abandoned::text FROM inbound
    UNION ALL SELECT 4, 'callbacks promised', total::text FROM promised
    UNION ALL SELECT 5, '  asked for with the callback key', by_key::text FROM promised
    UNION ALL SELECT 6, '  owed after an abandoned wait', after_abandon::text FROM promised
    UNION ALL SELECT 7, 'callback calls dialled', dialled::text FROM callback_calls
    UNION ALL SELECT 8, 'callbacks kept (customer reached)', kept::text FROM promised
    UNION ALL SELECT 9, 'callbacks still open at the end', still_open::text FROM promised
    UNION ALL SELECT 10, 'dialer attempts', attempts::text FROM dialer
    UNION ALL SELECT 11, 'dialer live answers', live_answers::text FROM dialer
    UNION ALL SELECT 12, 'dialer answers talked to an agent', connected::text FROM dialer
    UNION ALL SELECT 13, 'dialer answering machines', machines::text FROM dialer
    UNION ALL SELECT 14, 'dialer abandoned (no agent in time)', abandoned::text FROM dialer
    UNION ALL SELECT 15, 'dialer abandon rate %', coalesce(round(100.0 * abandoned / nullif(live_answers, 0), 1)::text, '-') FROM dialer
) figures
ORDER BY n;
