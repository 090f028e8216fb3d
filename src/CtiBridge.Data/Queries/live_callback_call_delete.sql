DELETE FROM live_callback_calls WHERE call_id = @call_id
