-- A lease holder's check on its dedicated lock connection (call control's lease, the dialer's session lease):
-- answered at all, the session lives; true, this session still holds the session-level advisory lock of @key.
SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
      AND classid = ((@key >> 32) & 4294967295)::oid AND objid = (@key & 4294967295)::oid AND objsubid = 1)
