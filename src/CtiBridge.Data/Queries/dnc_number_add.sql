INSERT INTO dnc_numbers (scope, phone_number, added_at, request_id)
VALUES (@scope, @phone_number, @now, @request_id)
ON CONFLICT (phone_number, scope) DO NOTHING
