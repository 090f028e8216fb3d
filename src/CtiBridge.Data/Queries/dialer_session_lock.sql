-- The dialer instance's session lease: a session-level advisory lock on its key, held on a dedicated
-- connection for the instance's life. A kill -9 closes the connection and frees it at once.
SELECT pg_advisory_lock(hashtextextended('ctibridge.dialer:' || @instance_id, 0))
