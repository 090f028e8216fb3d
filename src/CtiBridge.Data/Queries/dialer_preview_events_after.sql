SELECT event_id, instance_id, preview::text
FROM dialer_preview_events
WHERE event_id > @after AND instance_id <> @except_instance
ORDER BY event_id
LIMIT @limit
