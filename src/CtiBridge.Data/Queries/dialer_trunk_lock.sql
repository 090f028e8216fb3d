-- One trunk's lines are counted and taken by one dialer at a time (all instances on the database):
-- the lock is held until the transaction that inserts the new attempts commits, so two instances
-- never both see the last free line. A separate statement from the count, so that the count's
-- snapshot is taken after the lock is held.
SELECT pg_advisory_xact_lock(hashtextextended(@trunk_key, 0))
