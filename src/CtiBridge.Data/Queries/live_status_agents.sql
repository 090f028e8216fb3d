SELECT a.agent_id, a.extension, a.queues, a.pause_reason, a.logged_in_at, a.updated_at, a.wrap_up_until,
       c.answered_at, c.call_id, a.ringing_call_id, a.ringing_since
FROM live_agents a
LEFT JOIN LATERAL (SELECT lc.answered_at, lc.call_id FROM live_calls lc
                   WHERE lc.agent_id = a.agent_id AND lc.answered_at IS NOT NULL AND lc.abandoned_at IS NULL AND lc.ended_at IS NULL
                   ORDER BY lc.answered_at DESC LIMIT 1) c ON true
ORDER BY a.agent_id
