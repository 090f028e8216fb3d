-- Ended rows of one server whose record is stored (their delete was missed, e.g. the instance died between): gone.
DELETE FROM live_calls l
WHERE l.server = @server AND l.ended_at IS NOT NULL AND l.abandoned_at IS NULL
  AND EXISTS (SELECT 1 FROM calls k WHERE k.call_id = l.call_id)
