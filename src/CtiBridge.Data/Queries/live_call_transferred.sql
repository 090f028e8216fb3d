-- The call was transferred: the target joins the call's transfer chain (as calls.transfer_chain), kept for a record
-- written from the row.
UPDATE live_calls SET transfer_chain = transfer_chain || @target, updated_at = @at
WHERE call_id = @call_id
