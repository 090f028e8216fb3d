-- callback_move for many callbacks in one round trip (a minute's callbacks made due at once): each id
-- in the order given (the caller sorts them, so instances moving overlapping sets lock rows in the
-- same order); returns the rows moved.
SELECT m.* FROM unnest(@ids::uuid[]) WITH ORDINALITY AS i(id, n)
CROSS JOIN LATERAL callback_move(i.id, @from_states, @to_state, @reason, @actor, @at, @call_id, @due, @add_attempts, @kind, @clear_owner, @placed_by, @only_placed_by) m
ORDER BY i.n
