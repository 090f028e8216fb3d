-- The agents on a nailed-up line of a live dialer instance (heartbeat at or after @stale_before).
SELECT l.agent_id, l.campaign_id, l.instance_id
FROM dialer_agent_lines l
JOIN dialer_instances i ON i.instance_id = l.instance_id
WHERE i.heartbeat_at >= @stale_before
ORDER BY l.agent_id
