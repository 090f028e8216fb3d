-- Of the callbacks this instance has queued in its ACD (@ids), those it no longer holds: cancelled,
-- rescheduled, resolved or expired by another instance (or the CLI), or offered again elsewhere. The
-- instance withdraws them from its ACD at its next heartbeat instead of at the agent's reservation.
SELECT c.* FROM callbacks c
WHERE c.callback_id = ANY (@ids)
  AND NOT (c.state IN ('due', 'dialing') AND c.placed_by IS NOT DISTINCT FROM @me)
