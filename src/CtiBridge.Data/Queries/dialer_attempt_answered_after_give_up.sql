-- A person answered a line the dialer had given up (ended as unanswered) just before: the attempt is stored again as a
-- person answered and abandoned (no agent), ended when the answer came. Only the give-up's end is replaced.
UPDATE dialer_attempts
SET answered_at = @answered_at, answered_by = 'HumanAnswer', ended_at = @ended_at, outcome = 'HumanAnswer', abandoned = true
WHERE call_id = @call_id AND outcome = @given_up_outcome AND answered_at IS NULL AND agent_connected_at IS NULL
