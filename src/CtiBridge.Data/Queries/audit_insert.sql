INSERT INTO audit_log (at, actor, role, action, target, outcome, remote_address, detail)
VALUES (@at, @actor, @role, @action, @target, @outcome, @remote_address, @detail::jsonb)
