-- Open callbacks not being dialled whose promise is out of reach: still not kept @expire_after past
-- the later of their due time and deadline (a retry or the hours move the due time on).
SELECT * FROM callbacks
WHERE state IN ('scheduled', 'due', 'retry')
  AND greatest(due_at, coalesce(deadline_at, due_at)) + @expire_after <= @now
ORDER BY due_at
LIMIT @limit
