INSERT INTO webhook_dead_letters (webhook, delivery_id, event_type, call_id, agent_id, payload, attempts, last_error, first_attempt_at, dead_at)
VALUES (@webhook, @delivery_id, @event_type, @call_id, @agent_id, @payload::jsonb, @attempts, @last_error, @first_attempt_at, @dead_at)
RETURNING id
