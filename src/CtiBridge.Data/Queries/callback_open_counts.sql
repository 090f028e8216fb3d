-- Open callbacks per queue and state for the metrics and the wallboard: how many, how many escalated
-- (overdue), and the oldest due time among those waiting for an agent.
SELECT queue, state, count(*) AS open, count(*) FILTER (WHERE escalated_at IS NOT NULL) AS overdue,
       min(due_at) FILTER (WHERE state = 'due') AS oldest_due
FROM callbacks
WHERE state IN ('scheduled', 'due', 'dialing', 'retry')
GROUP BY queue, state
ORDER BY queue, state
