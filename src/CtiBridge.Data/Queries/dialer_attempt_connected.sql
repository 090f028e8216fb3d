-- Written ahead when an attempt's customer is put through to an agent. An instance killed during the
-- conversation never stores the attempt's end; the sweep that ends such an orphan
-- (dialer_attempt_orphan_end) then knows the person was reached, and the lead is not dialled again.
-- Not after the end (which stores the same facts itself).
UPDATE dialer_attempts
SET answered_at = coalesce(answered_at, @answered_at), agent_id = @agent_id, agent_connected_at = @agent_connected_at
WHERE call_id = @call_id AND ended_at IS NULL
