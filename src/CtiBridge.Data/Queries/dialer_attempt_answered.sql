-- Written ahead when an attempt's customer answers (and what answered): an adopter of a killed instance
-- then knows the person is waiting for an agent and since when (the 2 s rule). Not after the end.
UPDATE dialer_attempts
SET answered_at = coalesce(answered_at, @answered_at), answered_by = coalesce(answered_by, @answered_by)
WHERE call_id = @call_id AND ended_at IS NULL
