-- Every line this instance held (at its start and at its stop: none is held then).
DELETE FROM dialer_agent_lines WHERE instance_id = @instance_id
