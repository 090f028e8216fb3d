-- In the transaction that stores these calls' rows: their ended live rows are not needed any more. An abandoned
-- caller's row stays until their callback request is stored (live_call_forget_abandoned.sql then deletes it).
DELETE FROM live_calls WHERE call_id = ANY(@call_ids) AND ended_at IS NOT NULL AND abandoned_at IS NULL
