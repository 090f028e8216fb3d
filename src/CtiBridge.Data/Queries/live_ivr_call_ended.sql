-- A caller outside a queue ended: the row stays, marked with what the call's record needs (an IVR-only call: its
-- end, disposition and who released it, the outside call's recording), until that record is stored
-- (live_ivr_calls_recorded_delete.sql in the record writer's transaction, or live_ivr_call_delete_recorded.sql here).
UPDATE live_ivr_calls SET ended_at = @at, disposition = @disposition, end_estimated = @end_estimated, released_by = @released_by,
    recording_id = @recording_id, recording_started_at = @recording_started_at, recording_path = @recording_path,
    recording_format = @recording_format, updated_at = @at
WHERE call_id = @call_id
