-- In the transaction that stores these calls' rows or survey answers: the ended live_ivr_calls rows kept for them
-- are not needed any more. @call_ids: the batch's inbound calls rows; @surveyed: the batch's survey answers' calls.
DELETE FROM live_ivr_calls
WHERE ended_at IS NOT NULL
  AND ((disposition IS NOT NULL AND call_id = ANY(@call_ids)) OR (disposition IS NULL AND call_id = ANY(@surveyed)))
