-- Every unmet demand this instance wrote (at its start and at its stop: it wants nothing then).
DELETE FROM dialer_line_demand WHERE instance_id = @instance_id
