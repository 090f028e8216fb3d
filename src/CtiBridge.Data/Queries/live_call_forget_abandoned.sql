-- The abandoned caller's callback request is stored (or none is owed): the row is not needed any more.
DELETE FROM live_calls WHERE call_id = @call_id
