-- Answered or abandoned join/leave requests older than a day are of no use to anyone.
DELETE FROM dialer_agent_requests WHERE requested_at < @before
