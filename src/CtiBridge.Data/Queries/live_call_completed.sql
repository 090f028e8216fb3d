-- A handling of the call finished (the agent's part of it): its talk and hold add to the call's, as in its record.
UPDATE live_calls SET talk_seconds = talk_seconds + @talk_seconds, call_hold_seconds = call_hold_seconds + @hold_seconds,
    released_by = @released_by, updated_at = @at
WHERE call_id = @call_id
