-- The abandoned caller's callback request is stored (or none is owed): the write-ahead is not needed any more. The
-- row goes if the call's record is stored (or the row is from before migration 0044 and carries no end); otherwise
-- it stays as an ended row until its record is stored. Counts the rows let go (none: the writer has not marked it).
WITH gone AS (
    DELETE FROM live_calls l
    WHERE l.call_id = @call_id AND l.abandoned_at IS NOT NULL
      AND (l.ended_at IS NULL OR EXISTS (SELECT 1 FROM calls k WHERE k.call_id = l.call_id))
    RETURNING 1
), released AS (
    UPDATE live_calls l SET abandoned_at = NULL
    WHERE l.call_id = @call_id AND l.abandoned_at IS NOT NULL AND l.ended_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM calls k WHERE k.call_id = l.call_id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM released)
