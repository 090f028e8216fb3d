-- Open callbacks waiting for their time (scheduled / retry) whose due time has passed: the sweep
-- hands them on even if their Quartz trigger was never written (crash between the two).
SELECT * FROM callbacks
WHERE state IN ('scheduled', 'retry') AND due_at <= @now
ORDER BY due_at
LIMIT @limit
