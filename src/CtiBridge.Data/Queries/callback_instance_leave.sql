-- An instance leaves: its own row at a graceful stop (beats = NULL), or a dead instance's row once it
-- holds no callback, only if its count is still the one judged dead (a stalled instance that came
-- back and beat again keeps its row).
DELETE FROM callback_instances i
WHERE i.scheduler = @scheduler AND i.instance_id = @instance
  AND (@beats::bigint IS NULL OR i.beats = @beats::bigint)
  AND (@beats::bigint IS NULL OR NOT EXISTS (
      SELECT 1 FROM callbacks c WHERE c.placed_by = i.instance_id AND c.state IN ('due', 'dialing')))
