-- Today's queue figures already in the call records (visits that entered in [@from, @to) and ended),
-- per queue and per Asterisk server of the caller: the raw sums behind report_queue_traffic's
-- columns, by the same rules (docs/metrics.md §4), for the live statistics to start from after a
-- restart or a takeover. @sl / @sa are metrics.service_level_seconds / short_abandon_seconds.
-- @servers (servers split between instances): only visits of calls on these servers; NULL for all.
WITH all_v AS (
    SELECT v.queue, v.outcome, v.wait_seconds, v.handled, v.talk_seconds, v.hold_seconds, v.wrap_up_seconds,
           (SELECT c.asterisk_server FROM calls c
            WHERE c.call_id = v.call_id AND c.started_at <= v.entered_at AND c.started_at > v.entered_at - interval '1 day'
            LIMIT 1) AS server
    FROM queue_visits v
    WHERE v.entered_at >= @from AND v.entered_at < @to
),
v AS (
    SELECT * FROM all_v WHERE @servers::text[] IS NULL OR server = ANY (@servers::text[])
),
per AS (
    SELECT 'queue' AS kind, queue AS name, v.* FROM v
    UNION ALL
    SELECT 'server', server, v.* FROM v WHERE server IS NOT NULL
)
SELECT kind, name,
       count(*) AS offered,
       count(*) FILTER (WHERE outcome = 'answered') AS answered,
       count(*) FILTER (WHERE outcome = 'answered' AND wait_seconds <= @sl) AS answered_within_sl,
       count(*) FILTER (WHERE outcome = 'abandoned') AS abandoned,
       count(*) FILTER (WHERE outcome = 'abandoned' AND wait_seconds < @sa) AS abandoned_short,
       count(*) FILTER (WHERE outcome IN ('timeout', 'exit_empty', 'exit_key')) AS overflowed,
       count(*) FILTER (WHERE outcome = 'system_lost') AS system_lost,
       coalesce(sum(wait_seconds) FILTER (WHERE outcome = 'answered'), 0) AS wait_answered,
       coalesce(max(wait_seconds), 0) AS longest_wait,
       count(*) FILTER (WHERE outcome = 'answered' AND handled) AS handled,
       coalesce(sum(talk_seconds) FILTER (WHERE outcome = 'answered' AND handled), 0) AS talk,
       coalesce(sum(hold_seconds) FILTER (WHERE outcome = 'answered' AND handled), 0) AS hold,
       coalesce(sum(wrap_up_seconds) FILTER (WHERE outcome = 'answered' AND handled), 0) AS wrap_up
FROM per
GROUP BY kind, name
ORDER BY kind, name
