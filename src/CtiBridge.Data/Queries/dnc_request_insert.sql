INSERT INTO dnc_requests (action, scope, phone_number, reason, requested_by, requested_at)
VALUES (@action, @scope, @phone_number, @reason, @requested_by, @now)
RETURNING request_id
