-- Callbacks (issue 11 leftovers, docs/callbacks.md):
-- * state 'expired': an open callback still not kept callbacks.expireAfter past its deadline (or due
--   time) is closed by the sweep instead of staying open for ever; counted as lost by the report.
-- * placed_by: the scheduler instance holding a due/dialing callback in its ACD. When that instance
--   stops checking in (crash, kill), another instance (or the restarted one) re-offers the callback
--   (history kind 'reoffered'); a reserve by anybody else than the holder is refused.
-- * live_calls.abandoned_at: an abandoned caller's row is kept (marked) until their callback request
--   is stored, so a crash between the hang-up and that write loses nothing (the sweep requests it).

ALTER TABLE callbacks DROP CONSTRAINT callbacks_state_check;
ALTER TABLE callbacks ADD CONSTRAINT callbacks_state_check CHECK (state IN ('scheduled', 'due', 'dialing', 'retry',
    'connected', 'failed', 'cancelled', 'resolved_by_inbound', 'expired'));
ALTER TABLE callbacks DROP CONSTRAINT callbacks_check;
ALTER TABLE callbacks ADD CONSTRAINT callbacks_closed_check
    CHECK ((state IN ('connected', 'failed', 'cancelled', 'resolved_by_inbound', 'expired')) = (closed_at IS NOT NULL));
ALTER TABLE callbacks ADD COLUMN placed_by text;
COMMENT ON COLUMN callbacks.placed_by IS 'Scheduler instance (qrtz_scheduler_state.instance_name) holding the callback in its ACD while due or dialing; NULL otherwise.';
CREATE INDEX callbacks_origin_call ON callbacks (origin_call_id) WHERE origin_call_id IS NOT NULL;

ALTER TABLE callback_events DROP CONSTRAINT callback_events_kind_check;
ALTER TABLE callback_events ADD CONSTRAINT callback_events_kind_check
    CHECK (kind IN ('created', 'merged', 'transition', 'rescheduled', 'reminded', 'escalated', 'owner_released', 'reoffered'));

ALTER TABLE live_calls ADD COLUMN abandoned_at timestamptz;
COMMENT ON COLUMN live_calls.abandoned_at IS 'The caller hung up while waiting: the row stays until the abandoned-call callback request is stored (write-ahead).';
CREATE INDEX live_calls_abandoned ON live_calls (abandoned_at) WHERE abandoned_at IS NOT NULL;

DROP FUNCTION callback_move(uuid, text[], text, text, text, timestamptz, text, timestamptz, integer, text, boolean);

-- As in 0010, plus: p_placed_by marks the instance that now holds a due/dialing callback (kept while
-- it stays due/dialing, cleared in any other state); p_only_placed_by refuses the move unless that
-- instance (or nobody) holds it, so an instance whose callback was re-offered elsewhere cannot dial it.
CREATE FUNCTION callback_move(
    p_id uuid, p_from text[], p_to text, p_reason text, p_actor text, p_at timestamptz,
    p_call_id text DEFAULT NULL, p_due timestamptz DEFAULT NULL, p_add_attempts integer DEFAULT 0,
    p_kind text DEFAULT 'transition', p_clear_owner boolean DEFAULT false,
    p_placed_by text DEFAULT NULL, p_only_placed_by text DEFAULT NULL)
RETURNS SETOF callbacks
LANGUAGE plpgsql AS $$
DECLARE
    old_state text;
    moved callbacks%ROWTYPE;
BEGIN
    SELECT c.state INTO old_state FROM callbacks c
    WHERE c.callback_id = p_id AND c.state = ANY (p_from)
      AND (p_only_placed_by IS NULL OR c.placed_by IS NULL OR c.placed_by = p_only_placed_by)
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    UPDATE callbacks c SET
        state = p_to,
        due_at = coalesce(p_due, c.due_at),
        attempts = c.attempts + p_add_attempts,
        first_attempt_at = CASE WHEN p_add_attempts > 0 THEN coalesce(c.first_attempt_at, p_at) ELSE c.first_attempt_at END,
        last_call_id = coalesce(p_call_id, c.last_call_id),
        owner_agent_id = CASE WHEN p_clear_owner THEN NULL ELSE c.owner_agent_id END,
        connected_at = CASE WHEN p_to = 'connected' THEN p_at ELSE c.connected_at END,
        closed_at = CASE WHEN p_to IN ('connected', 'failed', 'cancelled', 'resolved_by_inbound', 'expired') THEN p_at ELSE NULL END,
        reminded_at = CASE WHEN p_kind = 'reminded' THEN p_at ELSE c.reminded_at END,
        escalated_at = CASE WHEN p_kind = 'escalated' THEN p_at ELSE c.escalated_at END,
        placed_by = CASE WHEN p_to IN ('due', 'dialing') THEN coalesce(p_placed_by, c.placed_by) ELSE NULL END,
        version = c.version + 1,
        updated_at = p_at
    WHERE c.callback_id = p_id
    RETURNING c.* INTO moved;

    INSERT INTO callback_events (callback_id, seq, at, kind, from_state, to_state, reason, actor, call_id, due_at)
    VALUES (p_id, moved.version, p_at, p_kind, old_state, p_to, p_reason, p_actor, p_call_id, moved.due_at);
    RETURN NEXT moved;
END $$;

DROP FUNCTION report_callbacks(timestamptz, timestamptz, text, text);

-- As in 0015, plus the expired column; lost = failed + expired + still open past the deadline.
CREATE FUNCTION report_callbacks(p_from timestamptz, p_to timestamptz, p_interval text DEFAULT '1d', p_queue text DEFAULT NULL)
RETURNS TABLE (
    interval_start timestamptz, queue text, source text, requested bigint, merged_requests bigint,
    connected bigint, connected_on_time bigint, connected_late bigint, failed bigint, cancelled bigint,
    resolved_by_inbound bigint, still_open bigint, open_past_deadline bigint, lost bigint,
    kept_rate double precision, on_time_rate double precision, avg_minutes_to_connect double precision,
    escalated bigint, expired bigint)
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
           count(*) FILTER (WHERE c.state IN ('failed', 'expired') OR (c.closed_at IS NULL AND c.keep_by < now_ts)),
           (count(*) FILTER (WHERE c.state = 'connected'))::float8
               / nullif(count(*) FILTER (WHERE c.state NOT IN ('cancelled', 'resolved_by_inbound')), 0),
           (count(*) FILTER (WHERE c.state = 'connected' AND c.connected_at <= c.keep_by))::float8
               / nullif(count(*) FILTER (WHERE c.state NOT IN ('cancelled', 'resolved_by_inbound')), 0),
           (avg(extract(epoch FROM c.connected_at - c.created_at)) FILTER (WHERE c.state = 'connected') / 60)::float8,
           count(*) FILTER (WHERE c.escalated_at IS NOT NULL),
           count(*) FILTER (WHERE c.state = 'expired')
    FROM c
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3;
END $$;
ALTER FUNCTION report_callbacks(timestamptz, timestamptz, text, text) SET jit = off;
COMMENT ON FUNCTION report_callbacks(timestamptz, timestamptz, text, text) IS
    'Callbacks by request interval, queue and source: promised (requested), kept (connected), on time / late, failed, expired, cancelled, resolved by inbound, open, lost (failed, expired or open past the deadline), rates over callbacks still owed (not cancelled or resolved). Abandoned-call compliance = on_time_rate of source abandoned (deadline = hang-up + 10 min).';
