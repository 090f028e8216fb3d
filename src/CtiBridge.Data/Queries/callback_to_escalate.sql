-- Open callbacks past their escalation time that have not been escalated yet.
SELECT * FROM callbacks
WHERE state IN ('scheduled', 'due', 'dialing', 'retry') AND escalated_at IS NULL
  AND (due_at + @escalate_after <= @now OR deadline_at <= @now)
ORDER BY due_at
LIMIT @limit
