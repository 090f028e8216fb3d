-- Abandoned callers whose callback request was not stored (the process died between the hang-up and
-- the write, or the write failed): live_calls rows marked abandoned before @before.
SELECT l.call_id, l.queue, l.caller_number, l.caller_name, l.enqueued_at, l.abandoned_at,
       EXISTS (SELECT 1 FROM callbacks c WHERE c.origin_call_id = l.call_id) AS requested
FROM live_calls l
WHERE l.abandoned_at IS NOT NULL AND l.abandoned_at <= @before
ORDER BY l.abandoned_at
LIMIT @limit
