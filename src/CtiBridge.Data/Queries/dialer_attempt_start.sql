INSERT INTO dialer_attempts (campaign_id, lead_id, call_id, instance_id, phone_number, dialed_at, asterisk_server)
VALUES (@campaign_id, @lead_id, @call_id, @instance_id, @phone_number, @dialed_at, @asterisk_server)
