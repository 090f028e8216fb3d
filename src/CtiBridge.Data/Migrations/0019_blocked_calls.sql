-- A blacklisted caller (customer lookup says blocked) gets a calls row with disposition 'blocked'
-- (docs/metrics.md §7). Blocked calls are not demand to serve: they stay out of N and of every
-- rate built on it, as they did when they had no row at all, so no reported number changes.

ALTER TABLE calls DROP CONSTRAINT calls_disposition_check;
ALTER TABLE calls ADD CONSTRAINT calls_disposition_check CHECK (disposition IN (
    'answered', 'ivr_completed', 'abandoned', 'ivr_abandoned', 'overflowed',
    'voicemail', 'system_lost', 'no_answer', 'busy', 'failed', 'blocked'));

-- The centre report gains a blocked count (after system_lost); N is inbound calls less blocked ones.
DROP FUNCTION report_centre_traffic(timestamptz, timestamptz, text);
CREATE FUNCTION report_centre_traffic(p_from timestamptz, p_to timestamptz, p_interval text DEFAULT '1d')
RETURNS TABLE (
    interval_start timestamptz, inbound_calls bigint, answered bigint, ivr_completed bigint, abandoned bigint,
    ivr_abandoned bigint, overflowed bigint, voicemail bigint, system_lost bigint, blocked bigint,
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
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition <> 'blocked') AS n,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'answered') AS a,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'ivr_completed') AS ivr,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'abandoned') AS ab,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'ivr_abandoned') AS ivr_ab,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'overflowed') AS ov,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'voicemail') AS vm,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'system_lost') AS sl,
               count(*) FILTER (WHERE c.direction = 'inbound' AND c.disposition = 'blocked') AS bl,
               count(*) FILTER (WHERE c.direction = 'outbound') AS out_n,
               count(*) FILTER (WHERE c.direction = 'outbound' AND c.disposition = 'answered') AS out_a
        FROM calls c
        WHERE c.started_at >= p_from AND c.started_at < p_to
        GROUP BY 1)
    SELECT b, n, a, ivr, ab, ivr_ab, ov, vm, sl, bl,
           (a + ivr)::float8 / nullif(n, 0),
           1 - (a + ivr)::float8 / nullif(n, 0),
           out_n, out_a, out_a::float8 / nullif(out_n, 0), ver
    FROM agg
    ORDER BY b;
END $$;
ALTER FUNCTION report_centre_traffic(timestamptz, timestamptz, text) SET jit = off;

-- Where callers come from and when they call: calls entering N only.
CREATE OR REPLACE FUNCTION report_caller_origin(p_from timestamptz, p_to timestamptz, p_queue text DEFAULT NULL)
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
        WHERE ca.direction = 'inbound' AND ca.disposition <> 'blocked' AND ca.started_at >= p_from AND ca.started_at < p_to
          AND (p_queue IS NULL OR p_queue = ANY (ca.queues)))
    SELECT c.region, count(*), count(*) FILTER (WHERE c.disposition IN ('answered', 'ivr_completed')),
           (count(*) FILTER (WHERE c.disposition IN ('answered', 'ivr_completed')))::float8 / count(*),
           count(*)::float8 / sum(count(*)) OVER ()
    FROM c GROUP BY c.region ORDER BY count(*) DESC, c.region;
END $$;
ALTER FUNCTION report_caller_origin(timestamptz, timestamptz, text) SET jit = off;

CREATE OR REPLACE FUNCTION report_calls_by_hour(p_from timestamptz, p_to timestamptz, p_queue text DEFAULT NULL)
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
    WHERE c.direction = 'inbound' AND c.disposition <> 'blocked' AND c.started_at >= p_from AND c.started_at < p_to AND (p_queue IS NULL OR p_queue = ANY (c.queues))
    GROUP BY 1, 2 ORDER BY 1, 2;
END $$;
ALTER FUNCTION report_calls_by_hour(timestamptz, timestamptz, text) SET jit = off;
