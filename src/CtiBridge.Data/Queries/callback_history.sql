SELECT callback_id, seq, at, kind, from_state, to_state, reason, actor, call_id
FROM callback_events WHERE callback_id = @id ORDER BY seq
