-- Due or dialing callbacks held by an instance that is gone: judged dead by the caller (@dead: its
-- heartbeat count stood still too long, callback_instances), or without a heartbeat row at all
-- (stopped gracefully, or from before the row existed). The row check is in the same snapshot as the
-- callback, so an instance that has just started (row first, then its first placement) is never
-- taken for gone. No clock is compared here.
SELECT c.* FROM callbacks c
WHERE c.state IN ('due', 'dialing') AND c.placed_by IS NOT NULL AND c.placed_by <> @me
  AND (c.placed_by = ANY (@dead)
       OR NOT EXISTS (SELECT 1 FROM callback_instances i WHERE i.scheduler = @scheduler AND i.instance_id = c.placed_by))
ORDER BY c.due_at
LIMIT @limit
