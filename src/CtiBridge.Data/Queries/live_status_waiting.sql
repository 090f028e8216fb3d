SELECT queue, count(*), min(enqueued_at)
FROM live_calls WHERE answered_at IS NULL AND abandoned_at IS NULL AND ended_at IS NULL
GROUP BY queue ORDER BY queue
