DELETE FROM live_ivr_calls WHERE call_id = @call_id
