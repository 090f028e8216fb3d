SELECT id, webhook, delivery_id, event_type, call_id, agent_id, payload::text, attempts, last_error, first_attempt_at, dead_at, replayed_at, replayed_by
FROM webhook_dead_letters
WHERE (@webhook::text IS NULL OR webhook = @webhook)
  AND (@include_replayed OR replayed_at IS NULL)
ORDER BY dead_at DESC, id DESC
LIMIT @limit
