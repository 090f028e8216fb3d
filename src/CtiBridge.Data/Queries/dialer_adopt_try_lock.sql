-- True when the instance's session lock is free (its process is gone) and nobody else adopts it now: held
-- by this transaction until it commits, so two survivors never adopt one dead instance's calls twice.
SELECT pg_try_advisory_xact_lock(hashtextextended('ctibridge.dialer:' || @dead_instance_id, 0))
