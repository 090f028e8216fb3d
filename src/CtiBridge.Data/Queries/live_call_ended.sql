-- The call ended: its row stays, marked with what its record needs, until the record is stored
-- (live_calls_recorded_delete.sql in the record writer's transaction, or live_call_delete_recorded.sql here).
UPDATE live_calls SET ended_at = @at, disposition = @disposition, end_estimated = @end_estimated, updated_at = @at
WHERE call_id = @call_id
