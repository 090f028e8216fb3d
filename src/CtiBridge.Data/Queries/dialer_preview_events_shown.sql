-- Each agent's latest screen pop up to @upto when it is an offer still on screen: raised by a live
-- dialer instance (heartbeat at or after @stale_before) other than @except_instance. Oldest first.
SELECT event_id, instance_id, preview::text
FROM (
    SELECT DISTINCT ON (agent_id) event_id, instance_id, phase, preview
    FROM dialer_preview_events
    WHERE event_id <= @upto
    ORDER BY agent_id, event_id DESC
) latest
WHERE phase = 'offered'
  AND instance_id <> @except_instance
  AND instance_id IN (SELECT instance_id FROM dialer_instances WHERE heartbeat_at >= @stale_before)
ORDER BY event_id
