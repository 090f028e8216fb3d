-- The agent's latest screen pop, if the dialer instance that raised it is alive.
SELECT e.instance_id, e.phase, e.preview::text
FROM dialer_preview_events e
WHERE e.agent_id = @agent_id
  AND e.instance_id IN (SELECT instance_id FROM dialer_instances WHERE heartbeat_at >= @stale_before)
ORDER BY e.event_id DESC
LIMIT 1
