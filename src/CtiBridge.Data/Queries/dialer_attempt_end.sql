UPDATE dialer_attempts
SET answered_at = @answered_at, answered_by = @answered_by, agent_id = @agent_id,
    agent_connected_at = @agent_connected_at, ended_at = @ended_at, outcome = @outcome,
    hangup_cause = @hangup_cause, abandoned = @abandoned
WHERE call_id = @call_id
