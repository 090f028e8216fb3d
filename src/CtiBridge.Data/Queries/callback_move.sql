SELECT * FROM callback_move(@id, @from_states, @to_state, @reason, @actor, @at, @call_id, @due, @add_attempts, @kind, @clear_owner, @placed_by, @only_placed_by)
