-- The current visit ended unanswered (a new visit clears it, live_call_enqueued.sql): the outcome of the visit
-- record written from the row if the call's record has to be written from it.
UPDATE live_calls SET visit_outcome = @outcome, visit_left_at = @at, updated_at = @at
WHERE call_id = @call_id
