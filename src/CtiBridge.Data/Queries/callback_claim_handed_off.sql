-- The instance that controls @servers takes the due callbacks handed off to them (placed_by = @me), the
-- earliest due first; rows another instance is claiming at the same moment are skipped, so each callback
-- is claimed once. One history row per claim.
WITH picked AS (
    SELECT c.callback_id FROM callbacks c
    WHERE c.state = 'due' AND c.placed_by IS NULL AND c.placed_from = ANY (@servers)
    ORDER BY c.due_at
    LIMIT @limit
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE callbacks c SET placed_by = @me, version = c.version + 1, updated_at = @at
    FROM picked p WHERE c.callback_id = p.callback_id
    RETURNING c.*
), logged AS (
    INSERT INTO callback_events (callback_id, seq, at, kind, from_state, to_state, reason, actor, call_id, due_at)
    SELECT m.callback_id, m.version, @at, 'claimed', 'due', 'due', 'claimed by ' || @me::text || ', which controls ' || m.placed_from, @actor, NULL, m.due_at FROM moved m
)
SELECT * FROM moved ORDER BY due_at
