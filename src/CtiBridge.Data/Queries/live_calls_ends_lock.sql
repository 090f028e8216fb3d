-- Orders the writers of an ended call's row (the live state writer's mark, the record writer's insert and the
-- abandoned caller's release) for the rest of the transaction, so the last of them sees what the others committed
-- and the row goes with the record, whichever commits first. Taken just before the statement that looks.
SELECT pg_advisory_xact_lock(hashtextextended('ctibridge.live_calls.ends', 0))
