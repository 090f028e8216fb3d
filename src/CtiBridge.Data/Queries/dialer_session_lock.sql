-- The dialer instance's session lease: a session-level advisory lock on its key, held on a dedicated
-- connection for the instance's life. A kill -9 closes the connection and frees it at once. Returns the
-- key, which the hold's checks look for in pg_locks (lock_session_check).
SELECT k.key
FROM (SELECT hashtextextended('ctibridge.dialer:' || @instance_id, 0) AS key) k,
     LATERAL (SELECT pg_advisory_lock(k.key)) granted
