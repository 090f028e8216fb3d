-- The caller hung up while waiting: the row stays (marked) until the callback request is stored.
UPDATE live_calls SET abandoned_at = @at, updated_at = @at WHERE call_id = @call_id
