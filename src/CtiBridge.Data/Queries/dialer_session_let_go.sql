-- A dialer instance lets go of its session lease as a crash would, without ending the session: its lock is
-- released and its app stays named (dialer_instances.application), so a living instance takes it for dead and
-- adopts what it left (dialer_adopt_candidates). The lock session's own timeouts are reset too: the connection
-- goes back to the pool, where the lock and the short idle timeout would otherwise live on until it is reused.
SELECT pg_advisory_unlock_all();
RESET ALL
