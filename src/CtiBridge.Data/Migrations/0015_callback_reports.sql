-- Callback reports (docs/callbacks.md §8, docs/reports.md): promised vs kept vs late per interval of
-- request time, queue and source, and the abandoned-call compliance with the 10-minute rule. Lost
-- callbacks are the promises that will not be kept: failed, plus still open past their deadline.

INSERT INTO settings (key, value, description) VALUES
    ('callbacks.on_time_seconds', '600'::jsonb,
     'A callback without a deadline is kept on time when connected within this many seconds of the promised time.');

CREATE FUNCTION report_callbacks(p_from timestamptz, p_to timestamptz, p_interval text DEFAULT '1d', p_queue text DEFAULT NULL)
RETURNS TABLE (
    interval_start timestamptz, queue text, source text, requested bigint, merged_requests bigint,
    connected bigint, connected_on_time bigint, connected_late bigint, failed bigint, cancelled bigint,
    resolved_by_inbound bigint, still_open bigint, open_past_deadline bigint, lost bigint,
    kept_rate double precision, on_time_rate double precision, avg_minutes_to_connect double precision,
    escalated bigint)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    tz text := setting_text('reports.time_zone');
    on_time interval := make_interval(secs => setting_numeric('callbacks.on_time_seconds'));
    now_ts timestamptz := now();
BEGIN
    PERFORM report_check_args(p_from, p_to, p_interval);
    RETURN QUERY
    WITH c AS (
        SELECT report_bucket(cb.created_at, p_interval, tz) AS bucket, cb.*,
               coalesce(cb.deadline_at, cb.promised_at + on_time) AS keep_by
        FROM callbacks cb
        WHERE cb.created_at >= p_from AND cb.created_at < p_to AND (p_queue IS NULL OR cb.queue = p_queue)
    )
    SELECT c.bucket, c.queue, c.source,
           count(*),
           sum(c.merged_requests)::bigint,
           count(*) FILTER (WHERE c.state = 'connected'),
           count(*) FILTER (WHERE c.state = 'connected' AND c.connected_at <= c.keep_by),
           count(*) FILTER (WHERE c.state = 'connected' AND c.connected_at > c.keep_by),
           count(*) FILTER (WHERE c.state = 'failed'),
           count(*) FILTER (WHERE c.state = 'cancelled'),
           count(*) FILTER (WHERE c.state = 'resolved_by_inbound'),
           count(*) FILTER (WHERE c.closed_at IS NULL),
           count(*) FILTER (WHERE c.closed_at IS NULL AND c.keep_by < now_ts),
           count(*) FILTER (WHERE c.state = 'failed' OR (c.closed_at IS NULL AND c.keep_by < now_ts)),
           (count(*) FILTER (WHERE c.state = 'connected'))::float8
               / nullif(count(*) FILTER (WHERE c.state NOT IN ('cancelled', 'resolved_by_inbound')), 0),
           (count(*) FILTER (WHERE c.state = 'connected' AND c.connected_at <= c.keep_by))::float8
               / nullif(count(*) FILTER (WHERE c.state NOT IN ('cancelled', 'resolved_by_inbound')), 0),
           (avg(extract(epoch FROM c.connected_at - c.created_at)) FILTER (WHERE c.state = 'connected') / 60)::float8,
           count(*) FILTER (WHERE c.escalated_at IS NOT NULL)
    FROM c
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3;
END $$;
ALTER FUNCTION report_callbacks(timestamptz, timestamptz, text, text) SET jit = off;
COMMENT ON FUNCTION report_callbacks(timestamptz, timestamptz, text, text) IS
    'Callbacks by request interval, queue and source: promised (requested), kept (connected), on time / late, failed, cancelled, resolved by inbound, open, lost (failed or open past the deadline), rates over callbacks still owed (not cancelled or resolved). Abandoned-call compliance = on_time_rate of source abandoned (deadline = hang-up + 10 min).';
