-- The nailed-up line one agent is on, if a live dialer instance (heartbeat at or after @stale_before) holds it.
SELECT l.agent_id, l.campaign_id, l.instance_id
FROM dialer_agent_lines l
JOIN dialer_instances i ON i.instance_id = l.instance_id
WHERE l.agent_id = @agent_id AND i.heartbeat_at >= @stale_before
