DELETE FROM live_calls WHERE call_id = @call_id
