-- The callback scheduler's two Quartz lock rows, created before any node of the cluster starts. Left to
-- Quartz, each node inserts a missing row inside the transaction that wants the lock: two nodes started
-- at once on a fresh database both insert it, the loser's duplicate key aborts its transaction and every
-- retry in it fails with 25P02 ("Failure obtaining db row lock"), which stopped that instance.
INSERT INTO qrtz_locks (sched_name, lock_name)
VALUES (@scheduler, 'TRIGGER_ACCESS'), (@scheduler, 'STATE_ACCESS')
ON CONFLICT (sched_name, lock_name) DO NOTHING
