-- Dialer instances heard from at or after @stale_before, the most recently heard first.
SELECT instance_id
FROM dialer_instances
WHERE heartbeat_at >= @stale_before
ORDER BY heartbeat_at DESC, instance_id
