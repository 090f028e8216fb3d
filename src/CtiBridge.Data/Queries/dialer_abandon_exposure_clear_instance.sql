-- Every exposure row of this instance (0045), at its start and stop: it has no line up then.
DELETE FROM dialer_abandon_exposure WHERE instance_id = @instance_id
