-- An agent answered (@new_handling: a new handling starts, no hold yet) or a connected call was adopted
-- (its handling, and the hold kept with it, go on).
UPDATE live_calls SET agent_id = @agent_id, answered_at = @at, updated_at = @at, first_answered_at = coalesce(first_answered_at, @at),
    hold_seconds = CASE WHEN @new_handling THEN 0 ELSE hold_seconds END,
    hold_started_at = CASE WHEN @new_handling THEN NULL ELSE hold_started_at END
WHERE call_id = @call_id
