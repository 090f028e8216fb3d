-- The caller hung up while waiting: the row stays (marked) until the callback request is stored, and carries the
-- call's end like any ended row (live_call_ended.sql) until its record is stored.
UPDATE live_calls SET abandoned_at = @at, ended_at = @at, disposition = @disposition, end_estimated = @end_estimated, updated_at = @at
WHERE call_id = @call_id
