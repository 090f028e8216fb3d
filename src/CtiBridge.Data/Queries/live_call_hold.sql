-- The caller put on hold (@on_hold) or taken off it at @at (issue 14): a hold keeps its first start (an
-- adopter's "on hold" repeats it), and an ended hold is added to the handling's hold time.
UPDATE live_calls SET
    hold_seconds = hold_seconds + CASE WHEN NOT @on_hold AND hold_started_at IS NOT NULL AND @at > hold_started_at
        THEN extract(epoch FROM (@at - hold_started_at))::double precision ELSE 0 END,
    hold_started_at = CASE WHEN @on_hold THEN coalesce(hold_started_at, @at) ELSE NULL END,
    updated_at = @at
WHERE call_id = @call_id
