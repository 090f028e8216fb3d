-- Customers' calls waiting now per Asterisk server (the caller's), over every instance's part: the
-- whole centre's wallboard (GET /api/wallboard/centre) reads what each instance keeps in live_calls.
SELECT server, count(*), min(enqueued_at)
FROM live_calls WHERE answered_at IS NULL AND abandoned_at IS NULL AND ended_at IS NULL
GROUP BY server ORDER BY server
