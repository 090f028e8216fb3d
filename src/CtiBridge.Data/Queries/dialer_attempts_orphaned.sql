-- Open attempts (no end stored) that their instance will never end: instances that stopped
-- heartbeating (killed, host lost), and this instance id's own from before its current run started
-- (@own_before; an id configured by hand survives a restart; an adopted attempt counts from its adoption). Oldest first, a bounded batch per sweep.
SELECT a.call_id
FROM dialer_attempts a
WHERE a.ended_at IS NULL
  AND ((a.instance_id = @instance_id AND coalesce(a.adopted_at, a.dialed_at) < @own_before)
       OR a.instance_id NOT IN (SELECT instance_id FROM dialer_instances WHERE heartbeat_at >= @stale_before))
ORDER BY a.attempt_id
LIMIT @limit
