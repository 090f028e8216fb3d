-- A lease's lock session: its server settings for this session only (LockSessionTiming.SessionSettings:
-- the idle timeout, and the TCP timeouts no shorter than it).
SELECT count(set_config(s.name, s.value, false))
FROM unnest(@names::text[], @values::text[]) AS s(name, value)
