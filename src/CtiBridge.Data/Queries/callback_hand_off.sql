-- A due callback held by this instance (@me) belongs to a server another instance controls (@server):
-- it is let go (placed_by NULL) and marked for that server; one history row says so. Nothing when it is
-- no longer due or no longer held here (moved meanwhile).
WITH moved AS (
    UPDATE callbacks c SET placed_by = NULL, placed_from = @server, version = c.version + 1, updated_at = @at
    WHERE c.callback_id = @id AND c.state = 'due' AND c.placed_by = @me
    RETURNING c.*
), logged AS (
    INSERT INTO callback_events (callback_id, seq, at, kind, from_state, to_state, reason, actor, call_id, due_at)
    SELECT m.callback_id, m.version, @at, 'handed_off', 'due', 'due', @reason, @actor, NULL, m.due_at FROM moved m
)
SELECT * FROM moved
