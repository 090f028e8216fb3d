-- The call's end was marked after its record was stored (the record writer's delete found the row not marked yet):
-- the row goes now. An abandoned caller's row stays until their callback request is stored.
DELETE FROM live_calls l
WHERE l.call_id = @call_id AND l.ended_at IS NOT NULL AND l.abandoned_at IS NULL
  AND EXISTS (SELECT 1 FROM calls k WHERE k.call_id = l.call_id)
